"""Each movement's settlement on Stellar, as operators and users see it, and the
operators' endpoints for parked settlements: over real HTTP and PostgreSQL.

The settler's states are reached through the very repository calls the settler makes
(an envelope signed and saved, refused by the network, applied). The whole path on
PayTrace's local Stellar network is tests/integration/test_settlement_retry.py.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from stellar_sdk import Keypair

from app.config import Settings
from app.db.unit_of_work import UnitOfWork
from app.services import transfers
from app.services.custody import SecretBox
from app.services.pins import PinHasher
from app.services.transfers import TransferRequest
from tests.conftest import LiveServer
from tests.support.pwa import Pwa
from tests.support.wallets import fund, phone_of, register

PIN = "4821"
ALICE, BOB, CAROL = phone_of(1), phone_of(2), phone_of(3)
CHANNEL = Keypair.random().public_key
BAD_AUTH = {
    "missing": {},
    "wrong token": {"Authorization": "Bearer not-the-admin-token"},
    "other scheme": {"Authorization": "Basic YWRtaW46YWRtaW4="},
}


@pytest.fixture
def token(live_settings: Settings) -> str:
    assert live_settings.admin_token is not None
    return live_settings.admin_token.get_secret_value()


@pytest.fixture
def live_settings(live_settings: Settings, horizon_url: str) -> Settings:
    """The API asks the local Stellar network whether a refused envelope can still apply."""
    return live_settings.model_copy(update={"stellar_horizon_url": horizon_url})


@pytest.fixture
def admin(live_server: LiveServer, token: str) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=live_server.url + "/api/v1/admin",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    ) as client:
        yield client


@pytest.fixture
def people(live_settings, clean_database) -> tuple[int, int]:
    box = SecretBox.from_settings(live_settings)
    pin_hash = PinHasher.from_settings(live_settings).hash(PIN)
    alice = register(clean_database, box, pin_hash, phone=ALICE, name="Alice Wanjiru")
    bob = register(clean_database, box, pin_hash, phone=BOB, name="Bob Otieno")
    return alice, bob


def send(database, sender: int, to: str, amount: int, key: str) -> int:
    moved = transfers.transfer(
        UnitOfWork(database),
        TransferRequest(
            sender_user_id=sender, recipient_phone=to, amount=amount, idempotency_key=key
        ),
    )
    return moved.transaction_id


def cash_in_id(database, phone: str, amount: int, reference: str) -> int:
    fund(database, phone, amount, reference=reference)
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT max(id) FROM journal_transactions")
        found = cur.fetchone()[0]
        conn.rollback()
    return found


# ---- the settler's own steps, through its repository ------------------------------------


def submit(
    database, transaction_ids: list[int], max_time: datetime | None = None
) -> tuple[int, str]:
    """Sign-and-save: an envelope for these movements, saved, they become 'submitted'."""
    tx_hash = secrets.token_hex(32)
    with UnitOfWork(database) as uow:
        envelope_id = uow.settlements.add_envelope(
            source=CHANNEL,
            sequence=1,
            tx_hash=tx_hash,
            envelope_xdr="AAAA",
            max_time=max_time or datetime.now(UTC) + timedelta(minutes=2),
        )
        uow.settlements.mark_submitted(transaction_ids, envelope_id)
        uow.commit()
    return envelope_id, tx_hash


def refuse(database, envelope_id: int, failed: dict[int, str]) -> None:
    """The network refused the envelope: `failed` parked, its other movements pending."""
    with UnitOfWork(database) as uow:
        uow.settlements.release(
            envelope_id,
            "failed",
            failed=failed,
            result_codes={"transaction": "tx_failed", "operations": ["op_no_trust"]},
        )
        uow.commit()


def apply(database, envelope_id: int, tx_hash: str, ledger: int) -> None:
    with UnitOfWork(database) as uow:
        uow.settlements.mark_settled(envelope_id, tx_hash=tx_hash, ledger=ledger)
        uow.commit()


def park(database, transaction_id: int, why: str = "op_no_trust", *, live_for_s: float = -2) -> str:
    """A movement refused by the network and parked; returns its envelope's hash. The
    envelope's time bound is live_for_s from now (by default already past the local
    network's last closed ledger)."""
    max_time = datetime.now(UTC) + timedelta(seconds=live_for_s)
    envelope_id, tx_hash = submit(database, [transaction_id], max_time)
    refuse(database, envelope_id, {transaction_id: why})
    return tx_hash


def row(database, transaction_id: int) -> tuple:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT s.status, s.envelope_id, s.last_error, e.status"
            " FROM stellar_settlements s LEFT JOIN stellar_transactions e"
            " ON e.id = s.envelope_id WHERE s.transaction_id = %s",
            (transaction_id,),
        )
        found = cur.fetchone()
        conn.rollback()
    return found


def envelope_status(database, tx_hash: str) -> str:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT status FROM stellar_transactions WHERE tx_hash = %s", (tx_hash,))
        found = cur.fetchone()[0]
        conn.rollback()
    return found


def assert_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "detail"} and body["error"] == code, body
    return body


# ---- who may call -----------------------------------------------------------------------


@pytest.mark.parametrize("auth", BAD_AUTH.values(), ids=BAD_AUTH.keys())
def test_settlement_routes_need_the_admin_token(live_server, clean_database, people, auth):
    moved = cash_in_id(clean_database, ALICE, 50_000, "AG-1")
    park(clean_database, moved)
    base = live_server.url + "/api/v1/admin"

    for method, path in [("GET", "/settlements"), ("POST", f"/settlements/{moved}/retry")]:
        response = httpx.request(method, base + path, headers=auth, timeout=10)
        assert_error(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == "Bearer"

    assert row(clean_database, moved)[0] == "failed"  # the retry never reached the service


# ---- the list ---------------------------------------------------------------------------


def test_parked_settlements_are_listed_oldest_first_page_by_page(admin, clean_database, people):
    alice, bob = people
    deposit = cash_in_id(clean_database, ALICE, 500_000, "AG-1")
    first = send(clean_database, alice, BOB, 100_000, "t1")
    second = send(clean_database, alice, BOB, 20_000, "t2")
    third = send(clean_database, bob, ALICE, 5_000, "t3")
    # One envelope carries all four; the network refuses the operations of two of them.
    envelope_id, refused_hash = submit(clean_database, [deposit, first, second, third])
    refuse(clean_database, envelope_id, {first: "op_no_trust", third: "op_underfunded"})

    page = admin.get("/settlements", params={"limit": 1})
    assert page.status_code == 200, page.text
    body = page.json()
    assert [item["transaction_id"] for item in body["items"]] == [first]
    item = body["items"][0]
    assert (item["kind"], item["amount"], item["fee"]) == ("transfer", 100_000, 1_000)
    assert len(item["reference"]) == 10
    assert (item["status"], item["origin"]) == ("failed", "paytrace")
    assert (item["last_error"], item["envelope_hash"]) == ("op_no_trust", refused_hash)
    assert (item["stellar_tx_hash"], item["ledger"], item["settled_at"]) == (None, None, None)
    assert datetime.fromisoformat(item["created_at"]).tzinfo is not None

    rest = admin.get("/settlements", params={"limit": 1, "cursor": body["next_cursor"]}).json()
    assert [i["transaction_id"] for i in rest["items"]] == [third]
    assert rest["items"][0]["last_error"] == "op_underfunded"
    assert rest["next_cursor"] is None
    # The default: failed, 50 a page.
    assert [i["transaction_id"] for i in admin.get("/settlements").json()["items"]] == [
        first,
        third,
    ]

    pending = admin.get("/settlements", params={"status": "pending"}).json()
    assert [i["transaction_id"] for i in pending["items"]] == [deposit, second]
    assert all(i["envelope_hash"] is None and i["last_error"] is None for i in pending["items"])

    _, in_flight = submit(clean_database, [deposit])
    submitted = admin.get("/settlements", params={"status": "submitted"}).json()
    assert [(i["transaction_id"], i["envelope_hash"]) for i in submitted["items"]] == [
        (deposit, in_flight)
    ]


def cursor_of(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"status": "settled"}, "validation_failed"),
        ({"status": "FAILED"}, "validation_failed"),
        ({"status": ""}, "validation_failed"),
        ({"limit": 0}, "validation_failed"),
        ({"limit": 201}, "validation_failed"),
        ({"limit": "ten"}, "validation_failed"),
        ({"cursor": "x" * 41}, "validation_failed"),
        ({"cursor": "bm9wZQ"}, "invalid_cursor"),  # "nope"
        ({"cursor": cursor_of("s:0")}, "invalid_cursor"),
        ({"cursor": cursor_of("s:-3")}, "invalid_cursor"),
        ({"cursor": cursor_of(f"s:{2**63}")}, "invalid_cursor"),
        ({"cursor": cursor_of("l:5")}, "invalid_cursor"),  # a wallet history cursor
        ({"cursor": "%%%"}, "invalid_cursor"),
        ({"cursor": "\u00e9t\u00e9"}, "invalid_cursor"),
    ],
)
def test_a_bad_listing_query_is_422(admin, people, params, code):
    assert_error(admin.get("/settlements", params=params), 422, code)


# ---- the retry --------------------------------------------------------------------------


def test_retry_puts_a_failed_settlement_back_to_pending_and_repeats_harmlessly(
    admin, clean_database, people
):
    alice, _ = people
    fund(clean_database, ALICE, 500_000)
    moved = send(clean_database, alice, BOB, 100_000, "t1")
    refused_hash = park(clean_database, moved)

    first = admin.post(f"/settlements/{moved}/retry")

    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["transaction_id"], body["status"], body["retried"]) == (moved, "pending", True)
    assert body["envelope_hash"] is None  # the refused envelope is never sent again
    assert body["last_error"] == "op_no_trust"  # why it was parked, until a new envelope
    assert row(clean_database, moved) == ("pending", None, "op_no_trust", None)
    assert envelope_status(clean_database, refused_hash) == "failed"

    again = admin.post(f"/settlements/{moved}/retry")
    assert again.status_code == 200
    assert again.json() == {**body, "retried": False}
    assert admin.get("/settlements").json()["items"] == []

    # The settler signs a new envelope for it: no longer retryable, and the error is gone.
    envelope_id, new_hash = submit(clean_database, [moved])
    assert new_hash != refused_hash
    busy = assert_error(admin.post(f"/settlements/{moved}/retry"), 409, "not_retryable")
    assert "submitted" in busy["detail"]
    assert row(clean_database, moved) == ("submitted", envelope_id, None, "signed")

    apply(clean_database, envelope_id, new_hash, 4242)
    done = assert_error(admin.post(f"/settlements/{moved}/retry"), 409, "not_retryable")
    assert "settled" in done["detail"]
    settled = admin.get(f"/transactions/{moved}").json()["settlement"]
    assert (settled["status"], settled["stellar_tx_hash"], settled["ledger"]) == (
        "settled",
        new_hash,
        4242,
    )


def test_no_retry_while_the_refused_envelope_could_still_apply(admin, clean_database, people):
    """Refused before any ledger (tx_bad_auth...), an envelope could still be applied by
    whoever holds its bytes until its time bound: a new one meanwhile could pay twice."""
    alice, _ = people
    fund(clean_database, ALICE, 500_000)
    moved = send(clean_database, alice, BOB, 100_000, "t-live")
    park(clean_database, moved, "tx_bad_auth", live_for_s=120)

    refused = assert_error(admin.post(f"/settlements/{moved}/retry"), 409, "not_retryable")
    assert "could still be applied" in refused["detail"]
    assert row(clean_database, moved)[0] == "failed"


def test_retry_of_a_transaction_without_a_settlement_is_404(admin, clean_database, people):
    moved = cash_in_id(clean_database, ALICE, 50_000, "AG-1")
    assert_error(admin.post("/settlements/999/retry"), 404, "not_found")
    assert_error(admin.post(f"/settlements/{2**63 - 1}/retry"), 404, "not_found")
    # A movement with no settlement recorded (as one posted before settlement existed).
    with clean_database.connection() as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM stellar_settlements WHERE transaction_id = %s", (moved,))
        conn.commit()
    assert_error(admin.post(f"/settlements/{moved}/retry"), 404, "not_found")
    assert admin.get(f"/transactions/{moved}").json()["settlement"] is None


@pytest.mark.parametrize("junk", ["0", "-1", "1.5", "abc", str(2**63), "9" * 30])
def test_retry_of_an_id_that_cannot_exist_is_422(admin, people, junk):
    assert_error(admin.post(f"/settlements/{junk}/retry"), 422, "validation_failed")


# ---- the transaction views --------------------------------------------------------------


def test_admin_transaction_view_shows_its_settlement(admin, clean_database, people):
    alice, _ = people
    deposit = cash_in_id(clean_database, ALICE, 500_000, "AG-1")
    moved = send(clean_database, alice, BOB, 100_000, "t1")

    pending = admin.get(f"/transactions/{moved}").json()["settlement"]
    assert pending == {
        "status": "pending",
        "origin": "paytrace",
        "stellar_tx_hash": None,
        "ledger": None,
        "last_error": None,
        "envelope_hash": None,
        "settled_at": None,
    }

    refused_hash = park(clean_database, moved, "op_underfunded, op_underfunded")
    parked = admin.get(f"/transactions/{moved}").json()["settlement"]
    assert (parked["status"], parked["last_error"]) == ("failed", "op_underfunded, op_underfunded")
    assert parked["envelope_hash"] == refused_hash

    envelope_id, tx_hash = submit(clean_database, [deposit])
    apply(clean_database, envelope_id, tx_hash, 77)
    settled = admin.get(f"/transactions/{deposit}").json()["settlement"]
    assert (settled["status"], settled["stellar_tx_hash"], settled["ledger"]) == (
        "settled",
        tx_hash,
        77,
    )
    assert settled["envelope_hash"] == tx_hash
    assert datetime.fromisoformat(settled["settled_at"]).tzinfo is not None

    # A reversal answers with its own settlement, pending until the settler sends it.
    reversal = admin.post(f"/transactions/{moved}/reverse", json={"reason": "wrong number"})
    assert reversal.status_code == 201, reversal.text
    assert reversal.json()["settlement"]["status"] == "pending"


def user_id_of(database, phone: str) -> int:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT id FROM users WHERE phone = %s", (phone,))
        found = cur.fetchone()[0]
        conn.rollback()
    return found


def test_wallet_transactions_show_each_movements_settlement(
    live_server, live_settings, clean_database
):
    pwa = Pwa(live_server.url, live_settings, clean_database)
    try:
        tokens = pwa.register(ALICE, "Alice Wanjiru", PIN)
        pwa.register(BOB, "Bob Otieno", "5937")
        alice = user_id_of(clean_database, ALICE)
        deposit = cash_in_id(clean_database, ALICE, 500_000, "AG-1")
        parked = send(clean_database, alice, BOB, 10_000, "t1")
        send(clean_database, alice, BOB, 20_000, "t2")  # still pending
        old = send(clean_database, alice, BOB, 30_000, "t3")
        envelope_id, tx_hash = submit(clean_database, [deposit])
        apply(clean_database, envelope_id, tx_hash, 1234)
        park(clean_database, parked)
        # A movement with no settlement recorded (as one posted before settlement existed).
        with clean_database.connection() as conn, conn.cursor() as cur:
            cur.execute("DELETE FROM stellar_settlements WHERE transaction_id = %s", (old,))
            conn.commit()

        page = pwa.http.get("/wallet/transactions", headers=pwa.bearer(tokens))
    finally:
        pwa.close()

    assert page.status_code == 200, page.text
    items = page.json()["items"]
    assert [i["type"] for i in items] == ["transfer", "transfer", "transfer", "cash_in"]
    assert [i["settlement"] for i in items] == [
        None,
        {"status": "pending", "stellar_tx_hash": None, "ledger": None},
        {"status": "failed", "stellar_tx_hash": None, "ledger": None},
        {"status": "settled", "stellar_tx_hash": tx_hash, "ledger": 1234},
    ]


def test_openapi_documents_the_settlement_routes_and_fields(live_server):
    spec = httpx.get(live_server.url + "/openapi.json").json()
    listing = spec["paths"]["/api/v1/admin/settlements"]["get"]
    assert listing["security"] == [{"AdminToken": []}]
    assert {p["name"] for p in listing["parameters"]} == {"status", "limit", "cursor"}
    retry = spec["paths"]["/api/v1/admin/settlements/{transaction_id}/retry"]["post"]
    assert {"200", "401", "404", "409", "422"} <= set(retry["responses"])
    schemas = spec["components"]["schemas"]
    assert set(schemas["TransactionSettlementOut"]["properties"]) == {
        "status",
        "stellar_tx_hash",
        "ledger",
    }
    assert set(schemas["SettlementRetryOut"]["properties"]) >= {
        "transaction_id",
        "reference",
        "kind",
        "amount",
        "status",
        "last_error",
        "envelope_hash",
        "retried",
    }
