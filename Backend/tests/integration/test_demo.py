"""`make demo`'s history, written small through the real services: every kind of
movement lands, the books balance, the console's dashboard shows it, a second run adds
nothing, and production is refused."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime

import pytest

from app.db.repositories.ledger import LedgerCheck
from app.db.unit_of_work import UnitOfWork
from app.domain.money import NAIROBI
from app.errors import ValidationFailed
from app.services import console_dashboard, demo
from app.services.demo.plan import DEMO_PHONE_PREFIX, plan
from tests.support.wallets import check_ledger

# A fixed moment whose story has a withdrawal refused for want of funds (checked below):
# a second run must refuse it again, though by then the balance holds later deposits.
NOW = datetime(2026, 12, 5, 0, 15, tzinfo=UTC)


def journal_kinds(database) -> dict[str, int]:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT kind, count(*) FROM journal_transactions GROUP BY kind")
        found = dict(cur.fetchall())
        conn.rollback()
    return found


def test_the_plan_is_the_same_story_for_the_same_seed():
    first = plan(users=20, days=3, seed=5, now=NOW)
    assert first == plan(users=20, days=3, seed=5, now=NOW)
    assert first != plan(users=20, days=3, seed=6, now=NOW)
    assert all(
        p.phone.startswith(DEMO_PHONE_PREFIX) and p.name.startswith("Demo ") for p in first.people
    )
    assert all(e.key.startswith("demo:") for e in first.events)


@pytest.mark.parametrize("hour", [0, 9, 23])
def test_the_history_runs_every_nairobi_day_up_to_today_whatever_the_hour(hour):
    now = datetime(2026, 12, 5, hour, 20, tzinfo=NAIROBI)
    story = plan(users=20, days=3, seed=17, now=now)
    days = Counter(
        e.at.astimezone(NAIROBI).date() for e in story.events if e.kind != "registration"
    )
    assert sorted(days) == [date(2026, 12, 3), date(2026, 12, 4), date(2026, 12, 5)], days
    assert days[date(2026, 12, 5)] >= 3, days  # today has its movements, even at 00:20
    assert all(e.at < now for e in story.events)
    first = min(e.at for e in story.events).astimezone(NAIROBI)
    assert first.date() == date(2026, 12, 3), first  # three days: today and the two before


def test_a_small_demo_fills_every_kind_and_the_dashboard_shows_it(settings, clean_database):
    filled = demo.fill(
        lambda: UnitOfWork(clean_database), settings, users=20, days=3, seed=17, now=NOW
    )
    assert filled.done["registration"] == 20
    assert filled.done["deposit: credited"] > 0
    assert filled.refused == {"withdrawal: InsufficientFunds": 1}
    kinds = journal_kinds(clean_database)
    for kind in (
        "deposit",
        "transfer",
        "withdrawal",
        "withdrawal_payout",
        "contribution",
        "merchant_payment",
    ):
        assert kinds.get(kind, 0) > 0, (kind, kinds, filled)
    assert check_ledger(clean_database) == LedgerCheck(0, 0, 0, 0, 0)

    figures = console_dashboard.dashboard(UnitOfWork(clean_database), now=NOW)
    today, month = figures.windows[0], figures.windows[-1]
    assert today.days == 1 and today.moved.count > 0, today  # the history reaches today
    assert month.moved.value > 0 and month.moved.count > 0
    assert month.registrations == 20
    assert sum(day.value for day in figures.daily) == month.moved.value

    again = demo.fill(
        lambda: UnitOfWork(clean_database), settings, users=20, days=3, seed=17, now=NOW
    )
    assert journal_kinds(clean_database) == kinds  # replayed: nothing twice
    assert again.done["registration"] == 20


def test_the_demo_refuses_production(settings, clean_database):
    production = settings.model_copy(update={"environment": "production"})
    with pytest.raises(ValidationFailed) as refused:
        demo.fill(lambda: UnitOfWork(clean_database), production, users=20, days=3)
    assert refused.value.code == "production"
    assert journal_kinds(clean_database) == {}


def test_make_demo_refuses_production(monkeypatch, capsys, clean_database):
    from app.cli import demo as demo_cli

    monkeypatch.setenv("ENVIRONMENT", "production")
    assert demo_cli.main(["--users", "20", "--days", "3"]) == 2
    assert "development" in capsys.readouterr().err
    assert journal_kinds(clean_database) == {}
