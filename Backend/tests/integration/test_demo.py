"""`make demo`'s history, written small through the real services: every kind of
movement lands, the books balance, the console's dashboard shows it, a second run adds
nothing, and production is refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.db.repositories.ledger import LedgerCheck
from app.db.unit_of_work import UnitOfWork
from app.errors import ValidationFailed
from app.services import console_dashboard, demo
from app.services.demo.plan import DEMO_PHONE_PREFIX, plan
from tests.support.wallets import check_ledger

NOW = datetime.now(UTC)


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


def test_a_small_demo_fills_every_kind_and_the_dashboard_shows_it(settings, clean_database):
    filled = demo.fill(
        lambda: UnitOfWork(clean_database), settings, users=20, days=3, seed=17, now=NOW
    )
    assert filled.done["registration"] == 20
    assert filled.done["deposit: credited"] > 0
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
    month = figures.windows[-1]
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
