"""A PIN guesser is slowed, then stopped: each repeated lock lasts longer, and after
PIN_TIMED_LOCKS of them only an operator's unlock or a reset with an SMS code opens
the PIN. Driven through the real PIN service on PostgreSQL with a clock the test
holds, and over real HTTP (REST and USSD) for what the user is told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.db.unit_of_work import UnitOfWork
from app.domain.pin import lock_end_text
from app.errors import InvalidCredentials, PinLocked, PinResetRequired, WrongPin
from app.services import otp, pin_reset, pins, transfers
from app.services.otp import OtpKit
from app.services.pins import PinHasher, PinPolicy
from tests.e2e.at_gateway import AtGateway
from tests.support.pwa import Pwa
from tests.support.wallets import (
    fund,
    phone_of,
    register,
    registration_secrets,
    wallet_balance,
)

PIN, WRONG, NEW_PIN = "4821", "9357", "7305"
JANE = phone_of(1)
T0 = datetime(2030, 1, 1, 8, 0, tzinfo=UTC)
POLICY = PinPolicy(max_attempts=3, lock_minutes=(30, 120, 1440), timed_locks=3)


@pytest.fixture
def jane(settings, clean_database) -> int:
    box, pin_hash = registration_secrets(settings, PIN)
    user_id = register(clean_database, box, pin_hash, phone=JANE, name="Jane Wanjiku")
    fund(clean_database, JANE, 50_000)
    return user_id


@pytest.fixture
def attempt(settings, clean_database, jane):
    hasher = PinHasher.from_settings(settings)
    keys = iter(range(10**6))

    def attempt(pin: str, now: datetime) -> None:
        pins.verify_pin(
            UnitOfWork(clean_database),
            hasher,
            POLICY,
            user_id=jane,
            pin=pin,
            attempt_key=f"sec:{next(keys)}",
            now=now,
        )

    return attempt


def lock_once(attempt, now: datetime) -> PinLocked:
    """Three wrong PINs at `now`: the third engages the next lock, which is returned."""
    for _ in range(2):
        with pytest.raises(WrongPin):
            attempt(WRONG, now)
    with pytest.raises(PinLocked) as locked:
        attempt(WRONG, now)
    return locked.value


def credential(database, user_id: int) -> tuple:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT failed_attempts, locked_until, lock_count, reset_required"
            " FROM user_credentials WHERE user_id = %(id)s",
            {"id": user_id},
        )
        found = cur.fetchone()
        conn.rollback()
    return found


def sms_templates(database) -> list[str]:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT payload->>'template' FROM outbox ORDER BY id")
        found = [row[0] for row in cur.fetchall()]
        conn.rollback()
    return found


def lock_until_reset(attempt) -> datetime:
    """Drive the PIN through its three timed locks to the one that needs a reset;
    returns the moment it was engaged."""
    now = T0
    for minutes in (30, 120, 1440):
        assert lock_once(attempt, now).until == now + timedelta(minutes=minutes)
        now += timedelta(minutes=minutes, seconds=1)
    with pytest.raises(WrongPin):
        attempt(WRONG, now)
    with pytest.raises(WrongPin):
        attempt(WRONG, now)
    with pytest.raises(PinResetRequired):
        attempt(WRONG, now)
    return now


# ---- escalation ----------------------------------------------------------------------


def test_each_repeated_lock_lasts_longer_and_the_fourth_needs_a_reset(
    settings, attempt, clean_database, jane
):
    box, pin_hash = registration_secrets(settings, "5190")
    register(clean_database, box, pin_hash, phone=phone_of(2), name="Amina Otieno")
    engaged = lock_until_reset(attempt)

    assert credential(clean_database, jane) == (3, None, 4, True)
    # A week later the right PIN still does not open it: guessing has stopped for good.
    with pytest.raises(PinResetRequired):
        attempt(PIN, engaged + timedelta(days=7))
    with pytest.raises(PinResetRequired):  # nor does it send money, today
        transfers.send_money(
            UnitOfWork(clean_database),
            PinHasher.from_settings(settings),
            POLICY,
            transfers.TransferRequest(
                sender_user_id=jane,
                recipient_phone=phone_of(2),
                amount=10_000,
                idempotency_key="after-the-locks",
                channel="api",
            ),
            pin=PIN,
        )
    assert credential(clean_database, jane) == (3, None, 4, True)
    assert sms_templates(clean_database).count("pin_locked") == 3
    assert sms_templates(clean_database).count("pin_reset_required") == 1
    assert wallet_balance(clean_database, jane) == 50_000  # no money moved


def test_a_lock_does_not_end_early_and_attempts_during_it_are_not_counted(
    attempt, clean_database, jane
):
    first = lock_once(attempt, T0)
    second = lock_once(attempt, first.until + timedelta(seconds=1))
    for _ in range(5):
        with pytest.raises(PinLocked) as still:
            attempt(PIN, second.until - timedelta(seconds=1))
        assert still.value.until == second.until
    assert credential(clean_database, jane) == (3, second.until, 2, False)


def test_a_right_pin_between_locks_starts_the_escalation_again(attempt, clean_database, jane):
    first = lock_once(attempt, T0)
    after = first.until + timedelta(seconds=1)
    second = lock_once(attempt, after)
    assert second.until == after + timedelta(minutes=120)
    attempt(PIN, second.until + timedelta(seconds=1))
    assert credential(clean_database, jane) == (0, None, 0, False)

    again = second.until + timedelta(minutes=1)
    assert lock_once(attempt, again).until == again + timedelta(minutes=30)


def test_the_lock_sms_names_when_the_lock_ends_in_east_africa_time(attempt, clean_database):
    lock_once(attempt, T0)  # 08:00 UTC is 11:00 in Nairobi; the lock ends at 11:30
    with clean_database.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT payload FROM outbox WHERE payload->>'template' = 'pin_locked'")
        (payload,) = cur.fetchone()
        conn.rollback()
    assert payload["to"] == JANE and "until 11:30 EAT" in payload["message"]


# ---- what opens a PIN that needs a reset ------------------------------------------


def test_reset_required_is_opened_by_an_operator_unlock_and_escalation_starts_over(
    attempt, clean_database, jane
):
    engaged = lock_until_reset(attempt)
    assert pins.unlock(UnitOfWork(clean_database), user_id=jane, dedupe_key="support:1")
    assert credential(clean_database, jane) == (0, None, 0, False)
    attempt(PIN, engaged)
    assert lock_once(attempt, engaged).until == engaged + timedelta(minutes=30)


def test_reset_required_is_not_opened_by_a_wrong_stale_or_login_code(
    settings, attempt, clean_database, jane
):
    kit = OtpKit.from_settings(settings)
    lock_until_reset(attempt)
    otp.request_code(UnitOfWork(clean_database), kit, phone=JANE, purpose="login")
    login_code = sent_code(clean_database, kit)
    otp.request_code(UnitOfWork(clean_database), kit, phone=JANE, purpose="pin_reset")
    reset_code = sent_code(clean_database, kit)
    hasher = PinHasher.from_settings(settings)
    wrong = f"{(int(reset_code) + 1) % 10**6:06d}"

    for code in (login_code, wrong) if login_code != reset_code else (wrong,):
        with pytest.raises(InvalidCredentials):
            pin_reset.reset_pin(
                UnitOfWork(clean_database),
                kit,
                phone=JANE,
                code=code,
                pin_hash=hasher.hash(NEW_PIN),
                address="203.0.113.9",
            )
    with pytest.raises(InvalidCredentials):  # expired
        pin_reset.reset_pin(
            UnitOfWork(clean_database),
            kit,
            phone=JANE,
            code=reset_code,
            pin_hash=hasher.hash(NEW_PIN),
            now=datetime.now(UTC) + timedelta(seconds=kit.policy.ttl_s + 1),
        )
    assert credential(clean_database, jane) == (3, None, 4, True)
    assert "pin_reset" not in sms_templates(clean_database)


def sent_code(database, kit: OtpKit) -> str:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT payload->>'sealed' FROM outbox WHERE payload->>'template' = 'otp'"
            " ORDER BY id DESC LIMIT 1"
        )
        sealed = cur.fetchone()[0]
        conn.rollback()
    return kit.seal.open(sealed).split("code: ")[1][:6]


# ---- what the user is told, over the real channels -------------------------------


@pytest.fixture
def pwa(live_server, live_settings, database):
    client = Pwa(live_server.url, live_settings, database)
    yield client
    client.close()


def test_rest_says_when_the_lock_ends_and_ussd_says_it_in_nairobi_time(
    pwa, live_server, clean_database, jane
):
    for _ in range(2):
        assert pwa.token(JANE, pwa.new_code(JANE), WRONG).status_code == 401
    locked = pwa.token(JANE, pwa.new_code(JANE), WRONG)

    assert locked.status_code == 403, locked.text
    body = locked.json()
    assert (body["error"], body["reset_required"]) == ("pin_locked", False)
    until = datetime.fromisoformat(body["locked_until"])
    assert timedelta(minutes=29) < until - datetime.now(UTC) <= timedelta(minutes=30)
    screen = AtGateway(live_server.url, JANE).walk("1")
    assert screen == (
        f"END Your PIN is locked until {lock_end_text(until, datetime.now(UTC))}. "
        "You can still receive money."
    )


def test_a_pin_that_needs_a_reset_is_reopened_by_an_sms_code_over_rest(
    pwa, live_server, clean_database, attempt, jane
):
    lock_until_reset(attempt)
    refused = pwa.token(JANE, pwa.new_code(JANE), PIN)
    assert refused.status_code == 403
    assert refused.json()["error"] == "pin_reset_required"
    assert refused.json()["locked_until"] is None
    assert (
        AtGateway(live_server.url, JANE)
        .walk("1")
        .startswith("END Your PIN is locked. Reset it with an SMS code")
    )
    weak = pwa.http.post(
        "/auth/pin-reset", json={"phone": JANE, "otp": "000000", "new_pin": "1234"}
    )
    assert weak.status_code == 422 and weak.json()["error"] == "weak_pin"

    code = pwa.new_code(JANE, "pin_reset")
    reset = pwa.http.post("/auth/pin-reset", json={"phone": JANE, "otp": code, "new_pin": NEW_PIN})

    assert (reset.status_code, reset.json()) == (200, {"status": "pin_reset"})
    assert credential(clean_database, jane) == (0, None, 0, False)
    again = pwa.http.post("/auth/pin-reset", json={"phone": JANE, "otp": code, "new_pin": "5190"})
    assert again.status_code == 401  # the code was used once
    assert pwa.token(JANE, pwa.new_code(JANE), PIN).status_code == 401  # the old PIN is gone
    assert pwa.token(JANE, pwa.new_code(JANE), NEW_PIN).status_code == 200
    assert any("your PIN was reset" in text for text in pwa.inbox(JANE))


def test_a_stranger_asking_for_a_reset_code_gets_the_same_answer_and_no_sms(pwa, jane):
    stranger = phone_of(77)
    known, unknown = pwa.ask_code(JANE, "pin_reset"), pwa.ask_code(stranger, "pin_reset")
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert pwa.codes(stranger) == []
