import threading

import pytest
from stellar_sdk import Keypair

from app.db.unit_of_work import UnitOfWork
from app.errors import AlreadyRegistered, Conflict, ValidationFailed
from app.services.custody import SecretBox
from app.services.pins import PinHasher
from app.services.registration import NewUser, register_user

PHONE = "+254712345678"


@pytest.fixture
def box(settings) -> SecretBox:
    return SecretBox.from_settings(settings)


@pytest.fixture
def pin_hash(settings) -> str:
    return PinHasher.from_settings(settings).hash("4821")


@pytest.fixture
def new_user(pin_hash) -> NewUser:
    return NewUser(
        phone=PHONE,
        full_name="  Wanjiru   Kamau ",
        pin_hash=pin_hash,
        language="sw",
        registration_key="ussd:ATUid_1",
    )


def count(database, sql: str) -> int:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchone()[0]


def counts(database) -> dict[str, int]:
    return {
        table: count(database, f"SELECT count(*) FROM {table}")
        for table in ("users", "wallets", "user_credentials", "outbox")
    }


def test_register_creates_one_user_wallet_credential_and_welcome_sms(
    settings, clean_database, box, new_user
):
    done = register_user(UnitOfWork(clean_database), box, new_user, shortcode="*384*123#")

    assert done.created
    assert done.user.full_name == "Wanjiru Kamau"
    assert done.user.language == "sw" and done.user.role == "worker"
    assert done.user.paytrace_id.startswith("PT") and len(done.user.paytrace_id) == 10
    assert done.wallet.user_id == done.user.id
    assert done.wallet.activation_status == "pending"
    assert counts(clean_database) == {"users": 1, "wallets": 1, "user_credentials": 1, "outbox": 1}
    with clean_database.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT kind, payload, dedupe_key FROM outbox")
        kind, payload, dedupe_key = cur.fetchone()
    assert (kind, dedupe_key) == ("sms", f"welcome:{done.user.id}")
    assert payload["to"] == PHONE and payload["template"] == "welcome"
    assert "Karibu PayTrace, Wanjiru!" in payload["message"]
    assert done.user.paytrace_id in payload["message"] and "*384*123#" in payload["message"]


def test_stored_secret_is_encrypted_and_opens_to_the_wallets_own_seed(
    settings, clean_database, box, new_user
):
    done = register_user(UnitOfWork(clean_database), box, new_user, shortcode="*384*123#")

    with clean_database.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT stellar_address, stellar_secret_ct FROM wallets")
        address, ciphertext = cur.fetchone()
    assert address == done.wallet.stellar_address
    assert not ciphertext.startswith("S")
    seed = box.decrypt(ciphertext)
    assert seed not in ciphertext
    assert Keypair.from_secret(seed).public_key == address


def test_registering_again_with_the_same_key_returns_the_same_user_and_writes_nothing(
    settings, clean_database, box, new_user
):
    first = register_user(UnitOfWork(clean_database), box, new_user, shortcode="*384*123#")
    again = register_user(UnitOfWork(clean_database), box, new_user, shortcode="*384*123#")

    assert not again.created
    assert again.user == first.user and again.wallet == first.wallet
    assert counts(clean_database) == {"users": 1, "wallets": 1, "user_credentials": 1, "outbox": 1}


def test_same_phone_under_another_key_is_already_registered(
    settings, clean_database, box, new_user
):
    register_user(UnitOfWork(clean_database), box, new_user, shortcode="*384*123#")
    other_session = NewUser(**{**new_user.__dict__, "registration_key": "ussd:ATUid_2"})

    with pytest.raises(AlreadyRegistered):
        register_user(UnitOfWork(clean_database), box, other_session, shortcode="*384*123#")
    assert count(clean_database, "SELECT count(*) FROM users") == 1


def test_same_key_for_another_phone_is_a_conflict(settings, clean_database, box, new_user):
    register_user(UnitOfWork(clean_database), box, new_user, shortcode="*384*123#")
    other_phone = NewUser(**{**new_user.__dict__, "phone": "+254798765432"})

    with pytest.raises(Conflict):
        register_user(UnitOfWork(clean_database), box, other_phone, shortcode="*384*123#")


def test_ten_concurrent_registrations_with_one_key_make_one_user(
    settings, clean_database, box, new_user
):
    start = threading.Barrier(10)
    results, errors = [], []

    def register() -> None:
        start.wait()
        try:
            results.append(
                register_user(UnitOfWork(clean_database), box, new_user, shortcode="*384*123#")
            )
        except Exception as exc:  # collected: a thread's exception would vanish
            errors.append(exc)

    threads = [threading.Thread(target=register) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(r.created for r in results) == 1
    assert len({r.user.id for r in results}) == 1
    assert len({r.wallet.stellar_address for r in results}) == 1
    assert counts(clean_database) == {"users": 1, "wallets": 1, "user_credentials": 1, "outbox": 1}


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"full_name": "X"}, "invalid_name"),
        ({"language": "fr"}, "invalid_language"),
        ({"role": "admin"}, "invalid_role"),
        ({"phone": "0712345678"}, "invalid_phone"),
        ({"pin_hash": "4821"}, "invalid_pin_hash"),
        ({"registration_key": ""}, "invalid_registration_key"),
    ],
)
def test_bad_registration_is_refused_and_writes_nothing(
    settings, clean_database, box, new_user, change, code
):
    bad = NewUser(**{**new_user.__dict__, **change})

    with pytest.raises(ValidationFailed) as refused:
        register_user(UnitOfWork(clean_database), box, bad, shortcode="*384*123#")
    assert refused.value.code == code
    assert counts(clean_database) == {"users": 0, "wallets": 0, "user_credentials": 0, "outbox": 0}


def test_employer_registers_in_english(settings, clean_database, box, new_user):
    employer = NewUser(**{**new_user.__dict__, "role": "employer", "language": "en"})

    done = register_user(UnitOfWork(clean_database), box, employer, shortcode="*384*123#")

    assert (done.user.role, done.user.language) == ("employer", "en")
