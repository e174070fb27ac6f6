"""The dashboard's rails health, money positions, series by kind and drill-downs, on the
demo's history (written small through the real services), each checked against sums
computed here from the tables' own rows."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from app.db.unit_of_work import UnitOfWork
from app.errors import ValidationFailed
from app.services import console_dashboard, console_rails, demo
from tests.integration.test_console import operator  # noqa: F401 - the signed-in client

NOW = datetime.now(UTC)


def rows(database, sql: str) -> list[tuple]:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(sql)
        found = cur.fetchall()
        conn.rollback()
    return found


@pytest.fixture
def history(settings, clean_database):
    demo.fill(lambda: UnitOfWork(clean_database), settings, users=20, days=3, seed=17, now=NOW)
    return clean_database


def test_rails_and_positions_are_the_tables_own_sums(history):
    rails, positions = console_rails.health(UnitOfWork(history), NOW)

    deposits = rows(history, "SELECT coalesce(result_code, status), amount FROM mpesa_deposits")
    expected = Counter(code for code, _ in deposits)
    assert {c.label: c.count for c in rails.stk} == expected
    assert expected["0"] > 0 and len(expected) > 1  # paid and not paid, both seen
    paid_in = sum(amount for code, amount in deposits if code == "0")
    assert next(c.value for c in rails.stk if c.label == "0") == paid_in

    withdrawals = rows(history, "SELECT status, result_code, amount FROM mpesa_withdrawals")
    by_label = Counter(f"{s} {c}" if c else s for s, c, _ in withdrawals)
    assert {c.label: c.count for c in rails.b2c} == by_label
    paid_out = sum(a for s, _, a in withdrawals if s == "completed")
    # Each B2C result of the demo reports the float left after every payout so far.
    assert positions.mpesa_float is not None
    assert positions.mpesa_float.cents == demo.FLOAT_START - paid_out

    fee_legs = rows(
        history,
        "SELECT l.amount FROM journal_legs l JOIN ledger_accounts a ON a.id = l.account_id"
        " WHERE a.kind = 'fees'",
    )
    assert positions.fees_window == sum(a for (a,) in fee_legs) > 0
    assert all(h.value == 0 for h in positions.holds)  # every withdrawal has ended
    settlements = Counter(s for (s,) in rows(history, "SELECT status FROM stellar_settlements"))
    assert {c.label: c.count for c in rails.settlements} == settlements
    assert rails.lag.settled == 0 and rails.lag.oldest_unsettled_s > 0  # no worker ran

    moved = rows(
        history,
        "SELECT DISTINCT a.user_id FROM journal_legs l"
        " JOIN ledger_accounts a ON a.id = l.account_id WHERE a.kind = 'wallet'",
    )
    assert rails.active_window == len(moved) == 20
    success = rails.success()
    answered = sum(n for code, n in expected.items() if code.isdigit())
    assert (success["M-Pesa STK"].ok, success["M-Pesa STK"].ended) == (expected["0"], answered)
    assert success["M-Pesa B2C"].ended == sum(
        n for label, n in by_label.items() if label.split(" ")[0] in ("completed", "released")
    )
    assert success["Stellar"].ended == 0 and success["Stellar"].percent is None


def test_the_series_by_kind_adds_up_to_the_daily_totals(history):
    series = console_rails.daily_by_kind(UnitOfWork(history), NOW)
    totals = console_dashboard.dashboard(UnitOfWork(history), NOW).daily
    assert [d.day for d in totals] == list(series.days)
    for n, day in enumerate(totals):
        assert sum(v[n] for v in series.groups.values()) == day.value
        assert sum(c[n] for c in series.counts.values()) == day.count
    transfers = rows(
        history, "SELECT sum(amount) FROM journal_transactions WHERE kind = 'transfer'"
    )
    assert sum(series.groups["transfers"]) == transfers[0][0] > 0
    assert sum(series.groups["merchant payments"]) > 0 and sum(series.groups["harambee"]) > 0


def test_each_figure_drills_down_to_its_rows(history):
    uow = lambda: UnitOfWork(history)  # noqa: E731
    paid = console_rails.rows(uow(), "deposits", label="0", now=NOW)
    assert {r[paid.columns.index("result_code")] for r in paid.rows} == {"0"}
    (count,) = rows(history, "SELECT count(*) FROM mpesa_deposits WHERE result_code = '0'")[0]
    assert len(paid.rows) == min(count, console_rails.ROWS_LIMIT)
    sent = console_rails.rows(uow(), "movements", label="transfers", days=30, now=NOW)
    assert sent.rows and {r[sent.columns.index("kind")] for r in sent.rows} == {"transfer"}
    every = console_rails.rows(uow(), "movements", label="all", days=1, now=NOW)
    today = console_dashboard.dashboard(uow(), NOW).windows[0].moved.count
    assert len(every.rows) == min(today, console_rails.ROWS_LIMIT)
    fees = console_rails.rows(uow(), "fees", days=30, now=NOW)
    fee_total = sum(r[fees.columns.index("fee_earned")] for r in fees.rows)
    assert fees.rows and fee_total <= console_rails.health(uow(), NOW)[1].fees_window
    for figure, label in (("nothing", ""), ("movements", "loans")):
        with pytest.raises(ValidationFailed):
            console_rails.rows(uow(), figure, label=label, now=NOW)


def test_the_dashboard_page_shows_rails_and_positions_and_links_to_rows(operator, history):  # noqa: F811
    page = operator.get("/console")
    assert page.status_code == 200
    for text in (
        "Rails health",
        "Money positions",
        "/console/figures/deposits?label=0",
        "/console/figures/fees?days=30",
        "/console/settlements?status=pending",
    ):
        assert text in page.text, text
    data = operator.get("/console/dashboard.json").json()
    assert set(data["stacks"]) == {*console_rails.KIND_GROUPS, console_rails.OTHER}
    assert sum(data["value"]) == sum(sum(v) for v in data["stacks"].values()) > 0
    drill = operator.get("/console/figures/deposits", params={"label": "0"})
    assert (
        drill.status_code == 200
        and 'id="figure-rows"' in drill.text
        and "KES" not in drill.text[:0]
    )
    assert operator.get("/console/figures/nothing").status_code == 422
