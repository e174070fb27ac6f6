import pytest
from pydantic import SecretStr

from app.config import Settings
from app.errors import ValidationFailed
from app.services.pins import PinHasher, PinPolicy, check_new_pin

CHEAP = {"time_cost": 1, "memory_kib": 1024}


@pytest.fixture
def hasher() -> PinHasher:
    return PinHasher("pepper-one", **CHEAP)


def test_right_pin_verifies(hasher):
    assert hasher.verify(hasher.hash("4821"), "4821")


def test_wrong_pin_does_not_verify(hasher):
    assert not hasher.verify(hasher.hash("4821"), "4822")


def test_same_pin_under_another_pepper_does_not_verify(hasher):
    stored = hasher.hash("4821")
    assert not PinHasher("pepper-two", **CHEAP).verify(stored, "4821")


def test_pin_hash_is_argon2id_and_reveals_neither_pin_nor_pepper(hasher):
    stored = hasher.hash("4821")
    assert stored.startswith("$argon2id$")
    assert "4821" not in stored and "pepper-one" not in stored


def test_same_pin_hashes_differently_each_time(hasher):
    assert hasher.hash("4821") != hasher.hash("4821")


@pytest.mark.parametrize("broken", ["", "not-a-hash", "$argon2id$v=19$garbage", "4821"])
def test_malformed_hash_is_a_mismatch_not_a_crash(hasher, broken):
    assert hasher.verify(broken, "4821") is False


def test_hasher_refuses_an_empty_pepper():
    with pytest.raises(ValueError):
        PinHasher("", **CHEAP)


def test_hasher_and_policy_follow_settings(tmp_path):
    settings = Settings(
        _env_file=None,
        environment="test",
        data_dir=tmp_path,
        pin_pepper=SecretStr("from-settings"),
        pin_kdf_time_cost=1,
        pin_kdf_memory_kib=2048,
        pin_max_attempts=5,
        pin_lock_minutes="10,60",
        pin_timed_locks=2,
    )
    stored = PinHasher.from_settings(settings).hash("4821")
    assert "m=2048,t=1,p=1" in stored
    assert PinHasher("from-settings", **CHEAP).verify(stored, "4821")
    assert PinPolicy.from_settings(settings) == PinPolicy(
        max_attempts=5, lock_minutes=(10, 60), timed_locks=2
    )


@pytest.mark.parametrize("pin", ["0000", "1234", "4321", "1212", "1122", "1990", "2024"])
def test_weak_new_pin_is_refused_as_weak(pin):
    with pytest.raises(ValidationFailed) as refused:
        check_new_pin(pin)
    assert refused.value.code == "weak_pin"


@pytest.mark.parametrize("pin", ["482", "48215", "48a1", "", "４８２１"])
def test_malformed_new_pin_is_refused_as_invalid(pin):
    with pytest.raises(ValidationFailed) as refused:
        check_new_pin(pin)
    assert refused.value.code == "invalid_pin"


def test_good_new_pin_is_accepted():
    check_new_pin("4821")
