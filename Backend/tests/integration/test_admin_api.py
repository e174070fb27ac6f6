"""The operator/agent API over real HTTP: bearer token, cash-in, reversal, look-ups, unlock."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from cryptography.fernet import Fernet

from app.cli.devserver import banner
from app.config import Settings
from app.db.unit_of_work import UnitOfWork
from app.errors import PinLocked, WrongPin
from app.services import transfers
from app.services.adjustments import MAX_CASH_IN
from app.services.custody import SecretBox
from app.services.pins import PinHasher, PinPolicy, verify_pin
from app.services.transfers import TransferRequest
from tests.conftest import LiveServer, free_port
from tests.support.wallets import check_ledger, fund, phone_of, register, wallet_balance

PIN = "4821"
ALICE, BOB = phone_of(1), phone_of(2)
UNREGISTERED = phone_of(99)
USSD_TOKEN = secrets.token_urlsafe(32)


@pytest.fixture
def token(live_settings: Settings) -> str:
    assert live_settings.admin_token is not None  # generated like the other dev secrets
    return live_settings.admin_token.get_secret_value()


@pytest.fixture
def admin(live_server: LiveServer, token: str) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=live_server.url + "/api/v1/admin",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    ) as client:
        yield client


@pytest.fixture
def anonymous(live_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url + "/api/v1/admin", timeout=10) as client:
        yield client


@pytest.fixture
def people(live_settings, clean_database) -> tuple[int, int]:
    box = SecretBox.from_settings(live_settings)
    pin_hash = PinHasher.from_settings(live_settings).hash(PIN)
    alice = register(clean_database, box, pin_hash, phone=ALICE, name="Alice Wanjiru")
    bob = register(clean_database, box, pin_hash, phone=BOB, name="Bob Otieno", language="sw")
    return alice, bob


def send(database, sender: int, to: str, amount: int, key: str) -> int:
    moved = transfers.transfer(
        UnitOfWork(database),
        TransferRequest(
            sender_user_id=sender, recipient_phone=to, amount=amount, idempotency_key=key
        ),
    )
    return moved.transaction_id


def wrong_pin(settings: Settings, database, user_id: int, key: str) -> None:
    verify_pin(
        UnitOfWork(database),
        PinHasher.from_settings(settings),
        PinPolicy.from_settings(settings),
        user_id=user_id,
        pin="9999",
        attempt_key=key,
    )


def lock_pin(settings: Settings, database, user_id: int) -> None:
    """Three wrong PINs through the real PIN service: the third engages the lock."""
    for n in range(1, settings.pin_max_attempts):
        with pytest.raises(WrongPin):
            wrong_pin(settings, database, user_id, f"wrong-{n}")
    with pytest.raises(PinLocked):
        wrong_pin(settings, database, user_id, "wrong-last")


def scalar(database, sql: str) -> object:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(sql)
        value = cur.fetchone()[0]
        conn.rollback()
    return value


def sms_templates(database) -> list[str]:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT payload->>'template' FROM outbox ORDER BY id")
        rows = [row[0] for row in cur.fetchall()]
        conn.rollback()
    return rows


def journal_count(database) -> int:
    return scalar(database, "SELECT count(*) FROM journal_transactions")


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "detail"} and body["error"] == code, body


# ---- who may call ------------------------------------------------------------------

# Every admin route, each request well-formed: only the token is wrong.
ROUTES = [
    ("GET", f"/users/{ALICE}", None),
    ("POST", "/cash-in", {"phone": ALICE, "amount": 10_000, "reference": "AG-1"}),
    ("GET", "/transactions/1", None),
    ("POST", "/transactions/1/reverse", {"reason": "test"}),
    ("POST", f"/users/{ALICE}/unlock", None),
    ("GET", "/settlements?status=pending", None),
    ("POST", "/settlements/1/retry", None),
]
BAD_AUTH = {
    "missing": {},
    "wrong token": {"Authorization": "Bearer not-the-admin-token"},
    "bearer without a token": {"Authorization": "Bearer"},
    "other scheme": {"Authorization": "Basic YWRtaW46YWRtaW4="},
}


@pytest.mark.parametrize("auth", BAD_AUTH.values(), ids=BAD_AUTH.keys())
def test_a_missing_or_wrong_token_is_401_and_never_reaches_a_service(
    anonymous, live_settings, clean_database, people, token, auth
):
    alice, _ = people
    fund(clean_database, ALICE, 50_000)
    send(clean_database, alice, BOB, 10_000, key="t1")
    lock_pin(live_settings, clean_database, alice)
    journal, outbox = journal_count(clean_database), sms_templates(clean_database)

    for method, path, body in ROUTES:
        response = anonymous.request(method, path, json=body, headers=auth)
        assert_error(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == "Bearer"
        assert token not in response.text
    # Not even malformed JSON is looked at before the token.
    junk = anonymous.post("/cash-in", content=b"{not json", headers=auth)
    assert_error(junk, 401, "unauthorized")

    assert journal_count(clean_database) == journal
    assert sms_templates(clean_database) == outbox  # no cash-in, reversal or unlock SMS
    assert scalar(
        clean_database,
        f"SELECT locked_until IS NOT NULL FROM user_credentials WHERE user_id = {alice}",
    )


def test_the_token_is_compared_whole(anonymous, token):
    for near_miss in (token[:-1], token + "x", token.upper() if token.upper() != token else "x"):
        headers = {"Authorization": f"Bearer {near_miss}"}
        assert_error(anonymous.get(f"/users/{ALICE}", headers=headers), 401, "unauthorized")


@pytest.fixture
def production_server(settings: Settings) -> Iterator[LiveServer]:
    """PayTrace as production runs it with every required secret but no ADMIN_TOKEN."""
    from app.api.app import create_app

    production = Settings(
        _env_file=None,
        environment="production",
        database_url=settings.database_url,
        redis_url=settings.redis_url,
        redis_prefix=settings.redis_prefix,
        data_dir=settings.data_dir / "production",
        port=free_port(),
        pin_pepper=secrets.token_urlsafe(32),
        session_secret=secrets.token_urlsafe(32),
        api_token_secret=secrets.token_urlsafe(32),
        ussd_callback_token=USSD_TOKEN,
        at_callback_token=secrets.token_urlsafe(32),
        wallet_encryption_keys=Fernet.generate_key().decode(),
        at_api_key="a-real-looking-key",
        admin_token=None,
        pin_kdf_time_cost=1,
        pin_kdf_memory_kib=1024,
    )
    assert production.admin_token is None
    assert not production.dev_secrets_path.exists()  # production never generates secrets
    with LiveServer(create_app(production), production.port) as server:
        yield server


def test_production_without_admin_token_refuses_admin_but_serves_ussd(
    production_server, clean_database, token
):
    base = production_server.url
    for method, path, body in ROUTES:
        for headers in ({}, {"Authorization": f"Bearer {token}"}):
            response = httpx.request(
                method, base + "/api/v1/admin" + path, json=body, headers=headers
            )
            assert_error(response, 403, "admin_disabled")
    assert journal_count(clean_database) == 0

    assert httpx.get(base + "/health/ready").status_code == 200
    hop = httpx.post(
        base + "/ussd/" + USSD_TOKEN,
        data={"sessionId": "prod-1", "serviceCode": "*384*123#", "phoneNumber": ALICE, "text": ""},
    )
    assert hop.status_code == 200 and hop.text.startswith("CON ")


def test_the_dev_banner_says_where_the_admin_token_is_but_never_prints_it(live_settings, token):
    text = banner("http://127.0.0.1:8000", live_settings, worker=True, embedded=True)
    assert str(live_settings.dev_secrets_path) in text and "admin_token" in text
    assert token not in text


def test_openapi_documents_the_admin_routes_and_their_bearer_scheme(live_server):
    spec = httpx.get(live_server.url + "/openapi.json").json()
    assert spec["components"]["securitySchemes"]["AdminToken"]["scheme"] == "bearer"
    cash_in = spec["paths"]["/api/v1/admin/cash-in"]["post"]
    assert cash_in["security"] == [{"AdminToken": []}]
    assert {"200", "201", "401", "403", "409", "422"} <= set(cash_in["responses"])


# ---- users -----------------------------------------------------------------------------


@pytest.mark.parametrize("written", [ALICE, "0711000001", "254711000001", "+254 711 000 001"])
def test_user_lookup_shows_profile_balance_and_pin_state(admin, clean_database, people, written):
    fund(clean_database, ALICE, 123_456)

    response = admin.get(f"/users/{written}")

    assert response.status_code == 200, response.text
    user = response.json()
    assert user["phone"] == ALICE and user["full_name"] == "Alice Wanjiru"
    assert user["paytrace_id"].startswith("PT") and user["stellar_address"].startswith("G")
    assert (user["language"], user["role"], user["kyc_tier"]) == ("en", "worker", 1)
    assert user["activation_status"] == "pending"
    assert datetime.fromisoformat(user["created_at"]).tzinfo is not None
    assert user["balance"] == 123_456 and isinstance(user["balance"], int)
    assert user["pin"] == {
        "failed_attempts": 0,
        "locked_until": None,
        "locked": False,
        "lock_count": 0,
        "reset_required": False,
    }


def test_unknown_phone_is_404_and_a_malformed_one_is_422(admin, people):
    assert_error(admin.get(f"/users/{UNREGISTERED}"), 404, "not_found")
    for junk in ("12", "not-a-phone", "+" + "9" * 40, "%00", "%ED%A0%80", "0711%0A000001"):
        assert_error(admin.get(f"/users/{junk}"), 422, "invalid_phone")


# ---- cash-in ---------------------------------------------------------------------------


def test_cash_in_credits_once_and_replays_the_same_reference(admin, clean_database, people):
    alice, _ = people
    request = {"phone": "0711000001", "amount": 150_000, "reference": "AGENT7-0001"}

    first = admin.post("/cash-in", json=request)
    again = admin.post("/cash-in", json={**request, "phone": ALICE})  # same phone, other form

    assert first.status_code == 201, first.text
    body = first.json()
    assert body["kind"] == "cash_in" and body["phone"] == ALICE
    assert (body["amount"], body["fee"], body["balance"]) == (150_000, 0, 150_000)
    assert body["replayed"] is False
    assert len(body["reference"]) == 10 and body["reference"] != request["reference"]
    assert again.status_code == 200
    assert again.json() == {**body, "replayed": True}
    assert wallet_balance(clean_database, alice) == 150_000
    assert sms_templates(clean_database).count("cash_in") == 1
    assert check_ledger(clean_database).sum_of_all_legs == 0

    other = admin.post("/cash-in", json={**request, "amount": 150_001})
    assert_error(other, 409, "idempotency_key_reused")
    elsewhere = admin.post("/cash-in", json={**request, "phone": BOB})
    assert_error(elsewhere, 409, "idempotency_key_reused")
    assert wallet_balance(clean_database, alice) == 150_000


GOOD = {"phone": ALICE, "amount": 10_000, "reference": "AG-9"}
BAD_CASH_INS = {
    "float amount": {**GOOD, "amount": 100.0},
    "fractional amount": {**GOOD, "amount": 100.5},
    "zero": {**GOOD, "amount": 0},
    "negative": {**GOOD, "amount": -100},
    "string amount": {**GOOD, "amount": "10000"},
    "boolean amount": {**GOOD, "amount": True},
    "null amount": {**GOOD, "amount": None},
    "above the cash-in maximum": {**GOOD, "amount": MAX_CASH_IN + 1},
    "beyond BIGINT": {**GOOD, "amount": 2**70},
    "missing amount": {"phone": ALICE, "reference": "AG-9"},
    "missing phone": {"amount": 10_000, "reference": "AG-9"},
    "missing reference": {"phone": ALICE, "amount": 10_000},
    "empty reference": {**GOOD, "reference": ""},
    "blank reference": {**GOOD, "reference": "   "},
    "long reference": {**GOOD, "reference": "R" * 65},
    "NUL in reference": {**GOOD, "reference": "AG\x009"},
    "number as phone": {**GOOD, "phone": 254711000001},
    "unknown field": {**GOOD, "amount_kes": 100},
    "a list": [GOOD],
}


@pytest.mark.parametrize("body", BAD_CASH_INS.values(), ids=BAD_CASH_INS.keys())
def test_malformed_cash_ins_are_422_and_move_nothing(admin, clean_database, people, body):
    response = admin.post("/cash-in", json=body)
    assert response.status_code == 422, response.text
    assert set(response.json()) == {"error", "detail"}
    assert journal_count(clean_database) == 0


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"phone": "+254711000001", "amount": 100', "application/json"),
        (b"", "application/json"),
        (b"\xff\xfe", "application/json"),
        (b"phone=%2B254711000001&amount=100&reference=x", "application/x-www-form-urlencoded"),
        (b'{"amount": 1' + b"0" * 5000 + b"}", "application/json"),
    ],
    ids=["truncated JSON", "empty body", "not UTF-8", "a form", "a 5000-digit number"],
)
def test_a_body_that_is_not_a_json_object_is_refused_without_a_500(
    admin, clean_database, people, content, content_type
):
    response = admin.post("/cash-in", content=content, headers={"Content-Type": content_type})
    assert 400 <= response.status_code < 500, response.text
    assert set(response.json()) == {"error", "detail"}
    assert journal_count(clean_database) == 0


def test_cash_in_to_a_bad_or_unknown_phone_is_refused(admin, clean_database, people):
    assert_error(admin.post("/cash-in", json={**GOOD, "phone": "0800"}), 422, "invalid_phone")
    assert_error(admin.post("/cash-in", json={**GOOD, "phone": UNREGISTERED}), 404, "not_found")
    assert journal_count(clean_database) == 0


# ---- transactions and reversals -------------------------------------------------------------


def test_transaction_shows_its_legs_with_owners_and_fee_account(admin, clean_database, people):
    alice, _ = people
    fund(clean_database, ALICE, 500_000)
    moved = send(clean_database, alice, BOB, 100_000, key="t1")

    response = admin.get(f"/transactions/{moved}")

    assert response.status_code == 200, response.text
    tx = response.json()
    assert (tx["transaction_id"], tx["kind"]) == (moved, "transfer")
    assert (tx["amount"], tx["fee"]) == (100_000, 1_000)
    assert (tx["reverses"], tx["reversed_by"], tx["channel"]) == (None, None, "ussd")
    legs = {(leg["account_kind"], leg["account_code"], leg["phone"]): leg for leg in tx["legs"]}
    assert legs["wallet", None, ALICE]["amount"] == -101_000
    assert legs["wallet", None, ALICE]["balance_after"] == 399_000
    assert legs["wallet", None, BOB]["full_name"] == "Bob Otieno"
    assert legs["fees", f"fees:{alice % 16}", None]["amount"] == 1_000
    assert sum(leg["amount"] for leg in tx["legs"]) == 0


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/transactions/999", 404, "not_found"),
        (f"/transactions/{2**63 - 1}", 404, "not_found"),
        (f"/transactions/{2**63}", 422, "validation_failed"),
        ("/transactions/99999999999999999999999999999", 422, "validation_failed"),
        ("/transactions/0", 422, "validation_failed"),
        ("/transactions/-1", 422, "validation_failed"),
        ("/transactions/1.5", 422, "validation_failed"),
        ("/transactions/abc", 422, "validation_failed"),
    ],
)
def test_transaction_ids_that_cannot_exist_are_refused(admin, people, path, status, code):
    assert_error(admin.get(path), status, code)
    assert_error(admin.post(path + "/reverse"), status, code)


def test_reversal_undoes_a_transfer_once_and_replays(admin, clean_database, people):
    alice, bob = people
    fund(clean_database, ALICE, 500_000)
    moved = send(clean_database, alice, BOB, 100_000, key="t1")

    first = admin.post(f"/transactions/{moved}/reverse", json={"reason": "wrong number, #1182"})
    again = admin.post(f"/transactions/{moved}/reverse")

    assert first.status_code == 201, first.text
    reversal = first.json()
    assert (reversal["kind"], reversal["reverses"]) == ("reversal", moved)
    assert reversal["replayed"] is False
    assert (reversal["amount"], reversal["fee"], reversal["channel"]) == (100_000, 1_000, "admin")
    assert reversal["note"] == "wrong number, #1182"
    after = {leg["phone"]: leg["balance_after"] for leg in reversal["legs"] if leg["phone"]}
    assert after == {ALICE: 500_000, BOB: 0}
    assert again.status_code == 200
    assert again.json() == {**reversal, "replayed": True}
    assert wallet_balance(clean_database, alice) == 500_000
    assert wallet_balance(clean_database, bob) == 0
    assert sms_templates(clean_database).count("reversal") == 2

    original = admin.get(f"/transactions/{moved}").json()
    assert original["reversed_by"] == reversal["transaction_id"]
    assert check_ledger(clean_database).balances_not_equal_to_legs == 0


def cash_in(admin: httpx.Client, amount: int = 50_000) -> int:
    """Alice's cash-in through the API; returns its transaction id."""
    response = admin.post("/cash-in", json={"phone": ALICE, "amount": amount, "reference": "AG-1"})
    assert response.status_code == 201, response.text
    return response.json()["transaction_id"]


def test_a_reversal_cannot_be_reversed(admin, clean_database, people):
    reversal = admin.post(f"/transactions/{cash_in(admin)}/reverse").json()
    journal = journal_count(clean_database)

    assert_error(
        admin.post(f"/transactions/{reversal['transaction_id']}/reverse"), 409, "not_reversible"
    )
    assert journal_count(clean_database) == journal


def test_reversal_is_refused_when_the_recipient_spent_the_money(admin, clean_database, people):
    alice, bob = people
    fund(clean_database, ALICE, 500_000)
    moved = send(clean_database, alice, BOB, 100_000, key="t1")
    send(clean_database, bob, ALICE, 90_000, key="t2")

    response = admin.post(f"/transactions/{moved}/reverse", json={"reason": "dispute"})

    assert_error(response, 422, "insufficient_funds")
    assert admin.get(f"/transactions/{moved}").json()["reversed_by"] is None
    assert wallet_balance(clean_database, bob) == 100_000 - 90_000 - 1_000


@pytest.mark.parametrize(
    "body",
    [{"reason": 42}, {"reason": "x" * 101}, {"reason": "a\x00b"}, {"why": "typo"}, ["reason"]],
    ids=["number", "too long", "NUL", "unknown field", "a list"],
)
def test_malformed_reversal_bodies_are_422_and_reverse_nothing(admin, clean_database, people, body):
    path = f"/transactions/{cash_in(admin)}/reverse"
    assert_error(admin.post(path, json=body), 422, "validation_failed")
    json_type = {"Content-Type": "application/json"}
    truncated = admin.post(path, content=b'{"reason":', headers=json_type)
    assert_error(truncated, 422, "validation_failed")
    assert journal_count(clean_database) == 1


# ---- PIN unlock ------------------------------------------------------------------------


def test_unlock_clears_a_real_lock_and_tells_the_user_once(
    admin, live_settings, clean_database, people
):
    alice, _ = people
    lock_pin(live_settings, clean_database, alice)
    locked = admin.get(f"/users/{ALICE}").json()["pin"]
    assert locked["failed_attempts"] == live_settings.pin_max_attempts and locked["locked"]
    assert datetime.fromisoformat(locked["locked_until"]) > datetime.now(UTC)

    first = admin.post("/users/0711000001/unlock")
    again = admin.post(f"/users/{ALICE}/unlock")

    assert (first.status_code, first.json()) == (200, {"unlocked": True})
    assert (again.status_code, again.json()) == (200, {"unlocked": False})
    assert admin.get(f"/users/{ALICE}").json()["pin"] == {
        "failed_attempts": 0,
        "locked_until": None,
        "locked": False,
        "lock_count": 0,
        "reset_required": False,
    }
    assert sms_templates(clean_database).count("pin_unlocked") == 1
    # Money-out works again with the right PIN.
    verify_pin(
        UnitOfWork(clean_database),
        PinHasher.from_settings(live_settings),
        PinPolicy.from_settings(live_settings),
        user_id=alice,
        pin=PIN,
        attempt_key="right-after-unlock",
    )


def test_unlock_clears_wrong_attempts_below_the_lock_too(
    admin, live_settings, clean_database, people
):
    alice, _ = people
    with pytest.raises(WrongPin):
        wrong_pin(live_settings, clean_database, alice, "once")
    assert admin.post(f"/users/{ALICE}/unlock").json() == {"unlocked": True}
    assert admin.get(f"/users/{ALICE}").json()["pin"]["failed_attempts"] == 0


def test_unlock_of_an_unknown_or_malformed_phone_is_refused(admin, clean_database, people):
    assert_error(admin.post(f"/users/{UNREGISTERED}/unlock"), 404, "not_found")
    assert_error(admin.post("/users/0800/unlock"), 422, "invalid_phone")
    assert "pin_unlocked" not in sms_templates(clean_database)


# ---- the ledger check ------------------------------------------------------------------------


def test_ledger_check_is_sound_after_real_movements(admin, clean_database, people):
    alice, _ = people
    fund(clean_database, ALICE, 500_000)
    send(clean_database, alice, BOB, 100_000, key="c1")

    response = admin.get("/ledger/check")

    assert response.status_code == 200, response.text
    assert response.json() == {
        "sound": True,
        "sum_of_all_legs": 0,
        "sum_of_all_balances": 0,
        "negative_wallets": 0,
        "balances_not_equal_to_legs": 0,
        "unbalanced_transactions": 0,
    }


def test_ledger_check_reports_a_balance_that_drifted(admin, clean_database, people):
    fund(clean_database, ALICE, 500_000)
    # What only an intruder with the database owner's rights could do: switch the
    # guard trigger off and edit a balance behind the ledger's back.
    with clean_database.connection() as conn, conn.cursor() as cur:
        cur.execute("ALTER TABLE ledger_accounts DISABLE TRIGGER ledger_accounts_guard")
        cur.execute("UPDATE ledger_accounts SET balance = balance + 1 WHERE code = 'fees:0'")
        cur.execute("ALTER TABLE ledger_accounts ENABLE TRIGGER ledger_accounts_guard")
        conn.commit()

    found = admin.get("/ledger/check").json()

    assert found["sound"] is False
    assert (found["balances_not_equal_to_legs"], found["sum_of_all_balances"]) == (1, 1)
    assert found["sum_of_all_legs"] == 0


def test_ledger_check_needs_the_admin_token(live_server):
    response = httpx.get(f"{live_server.url}/api/v1/admin/ledger/check")
    assert response.status_code == 401
