import threading
from datetime import UTC, datetime, timedelta

import pytest

from app.db.unit_of_work import UnitOfWork
from app.errors import NotFound, PinLocked, ValidationFailed, WrongPin
from app.services.custody import SecretBox
from app.services.pins import PinHasher, PinPolicy, change_pin, set_pin, verify_pin
from app.services.registration import NewUser, register_user

PIN = "4821"
WRONG = "9357"
T0 = datetime(2030, 1, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def hasher(settings) -> PinHasher:
    return PinHasher.from_settings(settings)


@pytest.fixture
def policy() -> PinPolicy:
    return PinPolicy(max_attempts=3, lock_minutes=(30,), timed_locks=99)


@pytest.fixture
def user_id(settings, clean_database, hasher) -> int:
    new = NewUser(
        phone="+254712345678",
        full_name="Achieng Otieno",
        pin_hash=hasher.hash(PIN),
        language="en",
        registration_key="ussd:pin-tests",
    )
    box = SecretBox.from_settings(settings)
    return register_user(UnitOfWork(clean_database), box, new, shortcode="*384*123#").user.id


@pytest.fixture
def attempt(clean_database, hasher, policy, user_id):
    """Try a PIN as the USSD layer would: one attempt key per hop."""

    def attempt(pin: str, key: str, now: datetime = T0) -> None:
        verify_pin(
            UnitOfWork(clean_database),
            hasher,
            policy,
            user_id=user_id,
            pin=pin,
            attempt_key=key,
            now=now,
        )

    return attempt


def credential(database, user_id: int) -> tuple[int, datetime | None]:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT failed_attempts, locked_until FROM user_credentials WHERE user_id = %(id)s",
            {"id": user_id},
        )
        return cur.fetchone()


def sms_templates(database) -> list[str]:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT payload->>'template' FROM outbox ORDER BY id")
        return [row[0] for row in cur.fetchall()]


def test_right_pin_passes(attempt, clean_database, user_id):
    attempt(PIN, "s1:1")
    assert credential(clean_database, user_id) == (0, None)


def test_wrong_pins_count_down_then_lock_and_tell_the_user_once(attempt, clean_database, user_id):
    with pytest.raises(WrongPin) as first:
        attempt(WRONG, "s1:1")
    with pytest.raises(WrongPin) as second:
        attempt(WRONG, "s1:2")
    with pytest.raises(PinLocked) as third:
        attempt(WRONG, "s1:3")
    with pytest.raises(PinLocked) as later:
        attempt(PIN, "s2:1", now=T0 + timedelta(minutes=10))

    assert (first.value.attempts_left, second.value.attempts_left) == (2, 1)
    assert third.value.seconds_left == 30 * 60
    assert later.value.seconds_left == 20 * 60
    assert credential(clean_database, user_id) == (3, T0 + timedelta(minutes=30))
    assert sms_templates(clean_database) == ["welcome", "pin_locked"]


def test_pin_locked_sms_goes_to_the_user_and_names_the_wait(attempt, clean_database, user_id):
    for hop in range(3):
        with pytest.raises((WrongPin, PinLocked)):
            attempt(WRONG, f"s1:{hop}")

    with clean_database.connection() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT payload, dedupe_key FROM outbox WHERE payload->>'template' = 'pin_locked'"
        )
        payload, dedupe_key = cur.fetchone()
    assert payload["to"] == "+254712345678"
    assert "until 11:30 EAT" in payload["message"]  # T0 + 30 minutes, in Nairobi
    assert dedupe_key == f"pin_locked:{user_id}:{(T0 + timedelta(minutes=30)).isoformat()}"


def test_a_retried_hop_counts_its_wrong_pin_once(attempt, clean_database, user_id):
    for _ in range(3):
        with pytest.raises(WrongPin) as retried:
            attempt(WRONG, "s1:5")
        assert retried.value.attempts_left == 2

    assert credential(clean_database, user_id) == (1, None)


def test_a_retried_hop_whose_pin_was_right_passes_again_without_a_new_check(
    clean_database, hasher, policy, user_id, attempt
):
    attempt(PIN, "s1:5")
    # Even with the wrong PIN in the replay, the recorded outcome stands.
    attempt(WRONG, "s1:5")
    assert credential(clean_database, user_id) == (0, None)


def test_a_retried_hop_that_locked_the_pin_answers_locked(attempt):
    for hop in range(2):
        with pytest.raises(WrongPin):
            attempt(WRONG, f"s1:{hop}")
    with pytest.raises(PinLocked):
        attempt(WRONG, "s1:2")
    with pytest.raises(PinLocked) as replay:
        attempt(WRONG, "s1:2", now=T0 + timedelta(seconds=1))
    assert replay.value.seconds_left == 30 * 60 - 1


def test_attempts_while_locked_are_not_counted(attempt, clean_database, user_id):
    for hop in range(3):
        with pytest.raises((WrongPin, PinLocked)):
            attempt(WRONG, f"s1:{hop}")
    for hop in range(5):
        with pytest.raises(PinLocked):
            attempt(WRONG, f"s2:{hop}", now=T0 + timedelta(minutes=1))

    assert credential(clean_database, user_id)[0] == 3
    assert sms_templates(clean_database).count("pin_locked") == 1


def test_eight_concurrent_wrong_pins_count_at_most_three_and_lock(
    clean_database, hasher, policy, user_id
):
    start = threading.Barrier(8)
    outcomes: list[type[Exception]] = []

    def wrong_attempt(n: int) -> None:
        start.wait()
        try:
            verify_pin(
                UnitOfWork(clean_database),
                hasher,
                policy,
                user_id=user_id,
                pin=WRONG,
                attempt_key=f"parallel:{n}",
            )
        except (WrongPin, PinLocked) as exc:
            outcomes.append(type(exc))

    threads = [threading.Thread(target=wrong_attempt, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    failed, locked_until = credential(clean_database, user_id)
    assert failed == 3
    assert locked_until is not None and locked_until > datetime.now(UTC)
    assert sorted(o.__name__ for o in outcomes) == ["PinLocked"] * 6 + ["WrongPin"] * 2
    assert sms_templates(clean_database).count("pin_locked") == 1


def test_right_pin_resets_the_count(attempt, clean_database, user_id):
    for hop in range(2):
        with pytest.raises(WrongPin):
            attempt(WRONG, f"s1:{hop}")
    attempt(PIN, "s1:2")
    assert credential(clean_database, user_id) == (0, None)

    with pytest.raises(WrongPin) as fresh:
        attempt(WRONG, "s1:3")
    assert fresh.value.attempts_left == 2


def test_an_expired_lock_lets_the_user_try_afresh(attempt, clean_database, user_id):
    for hop in range(3):
        with pytest.raises((WrongPin, PinLocked)):
            attempt(WRONG, f"s1:{hop}")
    after_lock = T0 + timedelta(minutes=30, seconds=1)

    with pytest.raises(WrongPin) as fresh:
        attempt(WRONG, "s2:1", now=after_lock)
    assert fresh.value.attempts_left == 2
    assert credential(clean_database, user_id) == (1, None)

    attempt(PIN, "s2:2", now=after_lock)
    assert credential(clean_database, user_id) == (0, None)


def test_a_user_without_a_pin_is_not_found(clean_database, hasher, policy):
    with pytest.raises(NotFound):
        verify_pin(
            UnitOfWork(clean_database), hasher, policy, user_id=999, pin=PIN, attempt_key="x"
        )


def test_set_pin_stores_the_new_pin_clears_the_lock_and_tells_the_user(
    attempt, clean_database, hasher, user_id
):
    for hop in range(3):
        with pytest.raises((WrongPin, PinLocked)):
            attempt(WRONG, f"s1:{hop}")

    set_pin(
        UnitOfWork(clean_database),
        user_id=user_id,
        pin_hash=hasher.hash("7305"),
        dedupe_key="pin_changed:s9",
    )
    set_pin(  # a retried request queues no second SMS
        UnitOfWork(clean_database),
        user_id=user_id,
        pin_hash=hasher.hash("7305"),
        dedupe_key="pin_changed:s9",
    )

    assert credential(clean_database, user_id) == (0, None)
    attempt("7305", "s10:1")
    with pytest.raises(WrongPin):
        attempt(PIN, "s10:2")
    assert sms_templates(clean_database) == ["welcome", "pin_locked", "pin_changed"]


def test_change_pin_needs_the_old_pin(clean_database, hasher, policy, user_id):
    with pytest.raises(WrongPin):
        change_pin(
            UnitOfWork(clean_database),
            hasher,
            policy,
            user_id=user_id,
            old_pin=WRONG,
            new_pin="7305",
            attempt_key="api:1",
        )
    assert credential(clean_database, user_id)[0] == 1


@pytest.mark.parametrize(("new_pin", "code"), [("1234", "weak_pin"), ("73a5", "invalid_pin")])
def test_change_pin_refuses_a_bad_new_pin(clean_database, hasher, policy, user_id, new_pin, code):
    with pytest.raises(ValidationFailed) as refused:
        change_pin(
            UnitOfWork(clean_database),
            hasher,
            policy,
            user_id=user_id,
            old_pin=PIN,
            new_pin=new_pin,
            attempt_key="api:1",
        )
    assert refused.value.code == code
    assert "pin_changed" not in sms_templates(clean_database)


def test_change_pin_switches_to_the_new_pin(attempt, clean_database, hasher, policy, user_id):
    change_pin(
        UnitOfWork(clean_database),
        hasher,
        policy,
        user_id=user_id,
        old_pin=PIN,
        new_pin="7305",
        attempt_key="api:1",
    )

    attempt("7305", "s1:1")
    assert sms_templates(clean_database) == ["welcome", "pin_changed"]
