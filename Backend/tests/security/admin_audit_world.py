"""The admin API's audit tests' world: Alice and Bob, a cash-in, a transfer and a wrong
PIN; a client of the admin API over real HTTP; the trail's rows as stored."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import httpx
import pytest

from app.config import Settings
from app.db.unit_of_work import UnitOfWork
from app.errors import WrongPin
from app.services import transfers
from app.services.pins import PinHasher, PinPolicy, verify_pin
from app.services.transfers import TransferRequest
from tests.conftest import LiveServer
from tests.support.merchants import keyed_merchant
from tests.support.wallets import fund, phone_of, register, registration_secrets

ADMIN = "/api/v1/admin"
ALICE, BOB = phone_of(1), phone_of(2)
CASH = {"phone": ALICE, "amount": 700, "reference": "AG-77"}


@pytest.fixture
def token(live_settings: Settings) -> str:
    assert live_settings.admin_token is not None
    return live_settings.admin_token.get_secret_value()


@pytest.fixture
def http(live_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url + ADMIN, timeout=10) as client:
        yield client


@pytest.fixture
def world(live_settings: Settings, clean_database) -> dict[str, int | str]:
    """Alice and Bob; Alice cashed in and sent Bob money, and mistyped her PIN once; a
    merchant with one API key."""
    box, pin_hash = registration_secrets(live_settings)
    alice = register(clean_database, box, pin_hash, phone=ALICE, name="Alice Wanjiru")
    register(clean_database, box, pin_hash, phone=BOB, name="Bob Otieno")
    fund(clean_database, ALICE, 50_000, reference="float-1")
    moved = transfers.transfer(
        UnitOfWork(clean_database),
        TransferRequest(
            sender_user_id=alice, recipient_phone=BOB, amount=10_000, idempotency_key="t1"
        ),
    )
    with pytest.raises(WrongPin):
        verify_pin(
            UnitOfWork(clean_database),
            PinHasher.from_settings(live_settings),
            PinPolicy.from_settings(live_settings),
            user_id=alice,
            pin="9999",
            attempt_key="wrong-1",
        )
    cash_in = query(clean_database, "SELECT min(id) FROM journal_transactions")[0][0]
    merchant = keyed_merchant(clean_database, live_settings)
    wallet = query(clean_database, f"SELECT id FROM ledger_accounts WHERE user_id = {alice}")[0][0]
    return {
        "alice_wallet": wallet,
        "transfer": moved.transaction_id,
        "cash_in": cash_in,
        "alice": alice,
        "merchant": merchant.merchant_id,
        "key": merchant.key_id,
    }


def query(database, sql: str, params: dict | None = None) -> list[tuple]:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
        conn.rollback()
    return rows


def audit_rows(database) -> list[dict]:
    rows = query(database, "SELECT to_jsonb(a) FROM admin_audit a ORDER BY id")
    return [row[0] for row in rows]


def fingerprint(token: str) -> str:
    return "token:" + hashlib.sha256(token.encode()).hexdigest()[:12]
