"""ledger_contribute (migration 0045): a harambee contribution checked and posted in one
statement.

The one-statement path is held to the statement-by-statement one it replaced
(tests/support/reference_contribution.py): the same requests, paying now and toward a
pledge, replayed, refused for every reason, crossing both milestones, leave the same
books (journal, legs, settlements, outflows, contributions, SMS) and meet the same
refusals.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from prometheus_client import REGISTRY

from app.db.pool import Database
from app.db.unit_of_work import UnitOfWork
from app.errors import PayTraceError
from app.services.harambee import campaigns, closing, contributions, pledges
from app.services.harambee.contributions import ContributionRequest
from tests.conftest import _truncate_all
from tests.support.books import movement_books
from tests.support.reference_contribution import contribute_by_statements
from tests.support.wallets import (
    SHORTCODE,
    LedgerCheck,
    check_ledger,
    fund,
    phone_of,
    register,
    registration_secrets,
)

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TODAY = date(2026, 3, 2)


def _scenario(database: Database, settings, contribute) -> tuple[list, dict]:
    """Four users, three campaigns and a pledge, then the same contributions through
    `contribute`; returns each one's outcome and the books they left."""
    box, pin_hash = registration_secrets(settings)
    names = ("Wanjiru Kamau", "Otieno Ouma", "Akinyi Njeri", "Baraka Mwangi")
    organiser, otieno, akinyi, baraka = (
        register(database, box, pin_hash, phone=phone_of(n), name=name, language=language)
        for n, name, language in zip((1, 2, 3, 4), names, ("sw", "en", "sw", "en"), strict=True)
    )
    for n, amount in ((2, 10_000_00), (3, 10_000_00), (4, 10_00)):
        fund(database, phone_of(n), amount)

    def start(key: str, **extra):
        return campaigns.start_campaign(
            UnitOfWork(database),
            organiser_user_id=organiser,
            title=f"Harambee {key}",
            target_amount=1_000_00,
            key=key,
            shortcode=SHORTCODE,
            now=NOW,
            **extra,
        ).campaign.id

    open_one, ending, cancelled = start("open"), start("ending", end_date=TODAY), start("off")
    closing.cancel_campaign(UnitOfWork(database), campaign_id=cancelled, user_id=organiser, now=NOW)
    pledge = pledges.make_pledge(
        UnitOfWork(database),
        user_id=akinyi,
        campaign_id=open_one,
        amount=400_00,
        due_date=TODAY + timedelta(days=7),
        key="p1",
        shortcode=SHORTCODE,
        now=NOW,
    ).pledge.id
    with UnitOfWork(database) as uow:
        per_transaction = uow.ledger.tier_limits(otieno).per_transaction
    later = NOW + timedelta(days=2)

    def give(user, campaign, amount, key, when=NOW, **extra):
        return (ContributionRequest(user, campaign, amount, key, **extra), when)

    requests = [
        give(otieno, open_one, 300_00, "c1", is_anonymous=True, message="Pamoja"),
        give(otieno, open_one, 300_00, "c1", is_anonymous=True, message="Pamoja"),  # replay
        give(otieno, open_one, 5_00, "c1"),  # same key, another request
        give(akinyi, open_one, 250_00, "c2"),  # crosses 50 %
        give(akinyi, open_one, None, "c3", pledge_id=pledge),  # what remains of the pledge
        give(akinyi, open_one, 1_00, "c4", pledge_id=pledge),  # the pledge is fulfilled
        give(otieno, open_one, 1_00, "c5", pledge_id=pledge),  # another's pledge
        give(otieno, open_one, 1_00, "c6", pledge_id=pledge + 99),  # no such pledge
        give(otieno, open_one + 99, 1_00, "c7"),  # no such campaign
        give(baraka, open_one, 20_00, "c8"),  # more than Baraka has
        give(otieno, open_one, per_transaction + 1, "c9"),  # above the tier's limit
        give(baraka, open_one, 10_00, "c10"),  # Baraka's whole balance
        give(otieno, open_one, 100_00, "c11"),  # crosses 100 %
        give(otieno, ending, 1_00, "c12"),  # open on its last day
        give(otieno, ending, 1_00, "c13", when=later),  # past its end date
        give(otieno, cancelled, 1_00, "c14"),  # cancelled
    ]
    outcomes = []
    for request, when in requests:
        try:
            made = contribute(UnitOfWork(database), request, now=when)
            outcomes.append(("made", _plain(made)))
        except PayTraceError as exc:
            outcomes.append(
                ("refused", type(exc).__name__, exc.code, str(exc), sorted(vars(exc).items()))
            )
    return outcomes, _books(database)


def _plain(made) -> tuple:
    """A contribution as answered, its random reference left out."""
    return (
        made.id,
        made.transaction_id,
        made.campaign_id,
        made.user_id,
        made.contributor_name,
        made.amount,
        made.pledge_id,
        made.is_anonymous,
        made.message,
        made.created_at,
        made.balance,
        made.raised,
        made.replayed,
    )


def _books(database: Database) -> dict:
    """Everything a contribution writes."""
    return movement_books(
        database,
        kind="contribution",
        tables={"contributions": "SELECT * FROM campaign_contributions ORDER BY id"},
        templates="harambee_%",
    )


def test_the_one_statement_contribution_leaves_the_books_the_statements_did(
    clean_database, settings
):
    by_statements = _scenario(clean_database, settings, contribute_by_statements)
    _truncate_all(clean_database)
    counted = _movements_counted()
    in_one_statement = _scenario(clean_database, settings, contributions.contribute)
    assert _movements_counted() - counted == 6  # each posted contribution, once

    outcomes, books = in_one_statement
    for n, (new, old) in enumerate(zip(outcomes, by_statements[0], strict=True)):
        assert new == old, f"request {n}"
    assert [o[0] for o in outcomes].count("made") == 7  # six contributions and a replay
    milestones = [m for m in books["outbox"] if "harambee_milestone" in m[2]]
    assert len(milestones) == 2 and len(books["contributions"]) == 6
    for part in books:
        assert books[part] == by_statements[1][part], part
    assert check_ledger(clean_database) == LedgerCheck(0, 0, 0, 0, 0)


def _movements_counted() -> float:
    return (
        REGISTRY.get_sample_value("paytrace_ledger_movements_total", {"kind": "contribution"})
        or 0.0
    )
