"""The console's pages over real HTTP: find a user, unlock their PIN with a reason (audited
with the operator as actor), read the audit log; and the dashboard's figures, checked
against sums computed here from the ledger's own rows."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from app.db.unit_of_work import UnitOfWork
from app.services import console_dashboard, transfers
from app.services.transfers import TransferRequest
from tests.conftest import LiveServer
from tests.integration.test_admin_api import wrong_pin
from tests.support.console import PASSWORD, csrf_of, make_operator, sign_in
from tests.support.wallets import fund, phone_of, register, registration_secrets

ALICE, BOB = phone_of(1), phone_of(2)
# Written out here rather than read from the code: the test's own idea of a Nairobi day.
EAT = ZoneInfo("Africa/Nairobi")
REFERENCE = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


@pytest.fixture
def people(live_settings, clean_database) -> tuple[int, int]:
    box, pin_hash = registration_secrets(live_settings)
    alice = register(clean_database, box, pin_hash, phone=ALICE, name="Alice Wanjiru")
    bob = register(clean_database, box, pin_hash, phone=BOB, name="Bob Otieno")
    return alice, bob


@pytest.fixture
def operator(live_server: LiveServer, live_settings, clean_database) -> Iterator[httpx.Client]:
    who = make_operator(live_settings, clean_database, "operator", "ops@paytrace.test")
    with httpx.Client(base_url=live_server.url, timeout=10, follow_redirects=True) as client:
        assert sign_in(client, who.email, PASSWORD, who.code()).status_code == 200  # followed
        yield client


def test_an_operator_finds_a_user_by_phone_or_paytrace_id(operator, people, clean_database):
    fund(clean_database, ALICE, 150_000)
    page = operator.get("/console/users", params={"q": "0711000001"})
    assert page.status_code == 200
    assert "Alice Wanjiru" in page.text and "KES 1,500" in page.text
    assert "cash_in" in page.text  # the mini statement's line
    with clean_database.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT paytrace_id FROM users WHERE phone = %(p)s", {"p": ALICE})
        (paytrace_id,) = cur.fetchone()
    by_id = operator.get("/console/users", params={"q": paytrace_id.lower()})
    assert "Alice Wanjiru" in by_id.text
    nobody = operator.get("/console/users", params={"q": "0799999999"})
    assert nobody.status_code == 200 and "No user matches" in nobody.text


def test_an_operator_unlocks_a_pin_with_a_reason_and_the_trail_names_them(
    operator, people, live_settings, clean_database
):
    alice, _ = people
    for n in range(3):
        with pytest.raises(Exception):  # noqa: B017 - WrongPin, then PinLocked
            wrong_pin(live_settings, clean_database, alice, f"w{n}")
    page = operator.get("/console/users", params={"q": ALICE})
    assert "locked until" in page.text
    csrf = csrf_of(page.text)
    no_reason = operator.post(f"/console/users/{ALICE}/unlock", data={"csrf": csrf})
    assert no_reason.status_code == 422 and "invalid_reason" in no_reason.text

    done = operator.post(
        f"/console/users/{ALICE}/unlock",
        data={"csrf": csrf, "reason": "caller verified by ID and last deposit"},
    )
    assert done.status_code == 200 and "PIN unlocked" in done.text
    with clean_database.connection() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT failed_attempts, locked_until FROM user_credentials WHERE user_id = %(u)s",
            {"u": alice},
        )
        assert cur.fetchone() == (0, None)
        cur.execute(
            "SELECT actor, target_kind, target_id, reason, detail"
            " FROM admin_audit WHERE action = 'console_unlock_pin' AND outcome = 'done'"
        )
        actor, kind, target, reason, detail = cur.fetchone()
        cur.execute("SELECT count(*) FROM outbox WHERE dedupe_key LIKE 'pin_unlocked:console:%%'")
        (sms,) = cur.fetchone()
    assert (actor, kind, target) == ("operator:1", "user", ALICE)
    assert reason == "caller verified by ID and last deposit"
    # Written by the unlock's own commit: the effect and its row, or neither.
    assert detail["committed_with_action"] is True
    assert sms == 1
    # The audit log page shows it, with the operator as actor.
    log = operator.get("/console/audit")
    assert "console_unlock_pin" in log.text and "caller verified by ID" in log.text
    assert "operator:1" in log.text


def _post(database, *, wallet_phone: str | None, amount: int, at: datetime) -> None:
    """A cash-in (or, without a wallet, float to suspense: PayTrace's own bookkeeping),
    written at `at` through the ledger repository."""
    with UnitOfWork(database) as uow:
        with uow.conn.cursor() as cur:
            cur.execute("SELECT id FROM ledger_accounts WHERE code = 'mpesa_float'")
            (float_id,) = cur.fetchone()
            cur.execute("SELECT id FROM ledger_accounts WHERE code = 'suspense'")
            (suspense_id,) = cur.fetchone()
            if wallet_phone:
                cur.execute(
                    "SELECT a.id FROM ledger_accounts a JOIN users u ON u.id = a.user_id"
                    " WHERE u.phone = %(p)s",
                    {"p": wallet_phone},
                )
                (to_id,) = cur.fetchone()
            else:
                to_id = suspense_id
        uow.ledger.post(
            reference="".join(secrets.choice(REFERENCE) for _ in range(10)),
            kind="cash_in",
            amount=amount,
            fee=0,
            idempotency_key=secrets.token_hex(8),
            request_hash="test",
            legs=[(float_id, -amount), (to_id, amount)],
            channel="admin",
            created_at=at,
        )
        uow.commit()


def _expected(database, now: datetime) -> dict[int, tuple[int, int, int]]:
    """{days: (value, movements, registrations)} summed here from the raw rows."""
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT t.id, t.amount, t.created_at, bool_or(a.kind = 'wallet')"
            " FROM journal_transactions t JOIN journal_legs l ON l.transaction_id = t.id"
            " JOIN ledger_accounts a ON a.id = l.account_id GROUP BY t.id"
        )
        movements = cur.fetchall()
        cur.execute("SELECT created_at FROM users")
        joined = [row[0] for row in cur.fetchall()]
    today = now.astimezone(EAT).date()
    expected = {}
    for days in (1, 7, 30):
        first = today - timedelta(days=days - 1)
        counted = [
            amount
            for _, amount, at, wallet in movements
            if wallet and first <= at.astimezone(EAT).date() <= today
        ]
        new = sum(1 for at in joined if first <= at.astimezone(EAT).date() <= today)
        expected[days] = (sum(counted), len(counted), new)
    return expected


def test_the_dashboard_figures_are_the_ledgers_own_sums(people, live_settings, clean_database):
    alice, _ = people
    now = datetime.now(UTC)
    fund(clean_database, ALICE, 500_000, reference="today-1")
    transfers.transfer(
        UnitOfWork(clean_database),
        TransferRequest(sender_user_id=alice, recipient_phone=BOB, amount=12_345,
                        idempotency_key="t-1"),
    )  # fmt: skip
    for age_days, amount in ((3, 70_000), (6, 1_001), (7, 2_000), (20, 33_300), (29, 5), (45, 9)):
        _post(clean_database, wallet_phone=BOB, amount=amount, at=now - timedelta(days=age_days))
    # PayTrace's own bookkeeping: not business, whatever its size.
    _post(clean_database, wallet_phone=None, amount=9_999_999, at=now)
    _post(clean_database, wallet_phone=None, amount=8_888_888, at=now - timedelta(days=2))
    with clean_database.connection() as conn, conn.cursor() as cur:
        cur.execute("UPDATE users SET created_at = now() - interval '10 days' WHERE phone = %(p)s",
                    {"p": BOB})  # fmt: skip
        conn.commit()

    figures = console_dashboard.dashboard(UnitOfWork(clean_database), now)

    expected = _expected(clean_database, now)
    got = {w.days: (w.moved.value, w.moved.count, w.registrations) for w in figures.windows}
    assert got == expected
    assert expected[1][1] >= 2 and expected[30][2] == 2  # the sums are not trivially empty
    assert len(figures.daily) == 30
    assert [d.day for d in figures.daily][-1] == now.astimezone(EAT).date()
    assert sum(d.value for d in figures.daily) == expected[30][0]
    assert sum(d.count for d in figures.daily) == expected[30][1]
    assert sum(1 for d in figures.daily if d.count == 0) >= 20  # zero-filled


def test_the_dashboard_page_and_its_chart_data(operator, people, clean_database):
    fund(clean_database, ALICE, 250_050, reference="today-1")
    page = operator.get("/console")
    assert page.status_code == 200
    assert "KES 2,500.50" in page.text
    data = operator.get("/console/dashboard.json").json()
    assert len(data["days"]) == len(data["value"]) == 30
    assert data["value"][-1] == 250_050 and data["count"][-1] == 1
