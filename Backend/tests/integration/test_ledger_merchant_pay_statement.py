"""ledger_merchant_pay (migration 0061): a payment at a merchant's till checked and
posted in one statement.

The one-statement path is held to the statement-by-statement one it replaced
(tests/support/reference_merchant_payment.py): the same requests, with a fee, without
one and with a fee the whole payment, replayed, refused for every reason, to a merchant
suspended before and after a payment, leave the same books (journal, legs,
settlements, outflows, payments, SMS) and meet the same refusals.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from prometheus_client import REGISTRY

from app.db.pool import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.merchants import FeeRule
from app.errors import PayTraceError
from app.services import merchants
from app.services.merchant_payments import payments
from app.services.merchant_payments.payments import MerchantPaymentRequest
from tests.conftest import _truncate_all
from tests.support.books import movement_books
from tests.support.merchants import application
from tests.support.reference_merchant_payment import pay_by_statements_at_till
from tests.support.wallets import (
    LedgerCheck,
    check_ledger,
    fund,
    phone_of,
    register,
    registration_secrets,
)

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TODAY = date(2026, 3, 2)
SHOP, FREE, STEEP, CLOSING = "512345", "522345", "532345", "542345"


def _scenario(database: Database, settings, pay) -> tuple[list, dict]:
    """Three payers and four merchants, then the same payments through `pay`; returns
    each one's outcome and the books they left."""
    box, pin_hash = registration_secrets(settings)
    names = ("Amina Njeri", "Baraka Mwangi", "Chebet Kiptoo")
    amina, baraka, chebet = (
        register(database, box, pin_hash, phone=phone_of(n), name=name, language=language)
        for n, name, language in zip((1, 2, 3), names, ("en", "sw", "en"), strict=True)
    )
    for n, amount in ((1, 10_000_00), (2, 10_000_00), (3, 10_00)):
        fund(database, phone_of(n), amount)
    onboarded = {
        till: merchants.onboard(
            UnitOfWork(database),
            application(till, fee=rule, language=language, contact_phone=f"07110{till[:5]}"),
        ).merchant
        for till, rule, language in (
            (SHOP, FeeRule(50, 100, 20_000), "en"),  # 0.5 %, KES 1 to KES 200
            (FREE, FeeRule(0, 0, 0), "sw"),  # no fee: two legs
            (STEEP, FeeRule(0, 500, 500), "en"),  # KES 5 flat: all of a smaller payment
            (CLOSING, FeeRule(100, 0, 10_000), "en"),
        )
    }
    with UnitOfWork(database) as uow:
        per_transaction = uow.ledger.tier_limits(amina).per_transaction

    def suspend():
        merchants.set_status(UnitOfWork(database), onboarded[CLOSING].id, "suspended")

    def give(user, till, amount, key, channel="ussd"):
        return MerchantPaymentRequest(user, till, amount, key, channel=channel)

    steps = [
        give(amina, SHOP, 250_00, "m1"),
        give(amina, SHOP, 250_00, "m1"),  # replay
        give(amina, SHOP, 5_00, "m1"),  # same key, another request
        give(baraka, FREE, 120_00, "m2", channel="api"),  # no fee, Kiswahili both sides
        give(baraka, STEEP, 3_00, "m3"),  # the fee takes the whole payment
        give(amina, STEEP, 9_00, "m4"),
        give(chebet, SHOP, 20_00, "m5"),  # more than Chebet has
        give(amina, SHOP, per_transaction + 1, "m6"),  # above the tier's limit
        give(chebet, SHOP, 10_00, "m7"),  # Chebet's whole balance
        give(amina, "599999", 1_00, "m8"),  # no merchant at this till
        give(baraka, CLOSING, 40_00, "m9"),
        suspend,
        give(baraka, CLOSING, 40_00, "m9"),  # a replay to a merchant suspended since
        give(baraka, CLOSING, 40_00, "m10"),  # a new payment to it
        give(amina, SHOP, 1, "m11"),  # one cent: the KES 1 minimum takes it
    ]
    outcomes = []
    for step in steps:
        if callable(step):
            step()
            continue
        try:
            made = pay(UnitOfWork(database), step, now=NOW)
            outcomes.append(("made", {**vars(made), "reference": None}))
        except PayTraceError as exc:
            outcomes.append(
                ("refused", type(exc).__name__, exc.code, str(exc), sorted(vars(exc).items()))
            )
    return outcomes, _books(database)


def _books(database: Database) -> dict:
    """Everything a payment writes."""
    return movement_books(
        database,
        kind="merchant_payment",
        tables={"payments": "SELECT * FROM merchant_payments ORDER BY transaction_id"},
        templates="merchant_%",
    )


def test_the_one_statement_payment_leaves_the_books_the_statements_did(clean_database, settings):
    by_statements = _scenario(clean_database, settings, pay_by_statements_at_till)
    _truncate_all(clean_database)
    counted = _movements_counted()
    in_one_statement = _scenario(clean_database, settings, payments.pay)
    assert _movements_counted() - counted == 7  # each posted payment, once

    outcomes, books = in_one_statement
    for n, (new, old) in enumerate(zip(outcomes, by_statements[0], strict=True)):
        assert new == old, f"request {n}"
    assert [o[0] for o in outcomes].count("made") == 9  # seven payments and two replays
    assert len(books["payments"]) == 7 and len(books["outbox"]) == 14
    for part in books:
        assert books[part] == by_statements[1][part], part
    assert check_ledger(clean_database) == LedgerCheck(0, 0, 0, 0, 0)


def _movements_counted() -> float:
    return (
        REGISTRY.get_sample_value("paytrace_ledger_movements_total", {"kind": "merchant_payment"})
        or 0.0
    )
