import pytest

from app.db.unit_of_work import UnitOfWork
from app.errors import NotFound, ValidationFailed
from app.services.accounts import Profile, get_profile, set_language
from app.services.custody import SecretBox
from app.services.pins import PinHasher
from app.services.registration import NewUser, register_user

PHONE = "+254712345678"


@pytest.fixture
def registered(settings, clean_database):
    new = NewUser(
        phone=PHONE,
        full_name="Baraka Mwangi",
        pin_hash=PinHasher.from_settings(settings).hash("4821"),
        language="en",
        registration_key="ussd:accounts",
        role="employer",
    )
    box = SecretBox.from_settings(settings)
    return register_user(UnitOfWork(clean_database), box, new, shortcode="*384*123#")


def test_profile_of_a_registered_phone(clean_database, registered):
    assert get_profile(UnitOfWork(clean_database), PHONE) == Profile(
        user_id=registered.user.id,
        paytrace_id=registered.user.paytrace_id,
        phone=PHONE,
        full_name="Baraka Mwangi",
        language="en",
        role="employer",
        stellar_address=registered.wallet.stellar_address,
        activation_status="pending",
    )


def test_unregistered_phone_has_no_profile(clean_database, registered):
    assert get_profile(UnitOfWork(clean_database), "+254798765432") is None


def test_user_switches_to_kiswahili(clean_database, registered):
    set_language(UnitOfWork(clean_database), user_id=registered.user.id, language="sw")

    assert get_profile(UnitOfWork(clean_database), PHONE).language == "sw"


@pytest.mark.parametrize("language", ["fr", "", "EN", "swahili"])
def test_unknown_language_is_refused_and_nothing_changes(clean_database, registered, language):
    with pytest.raises(ValidationFailed) as refused:
        set_language(UnitOfWork(clean_database), user_id=registered.user.id, language=language)

    assert refused.value.code == "invalid_language"
    assert get_profile(UnitOfWork(clean_database), PHONE).language == "en"


def test_language_of_an_unknown_user_is_not_found(clean_database):
    with pytest.raises(NotFound):
        set_language(UnitOfWork(clean_database), user_id=404, language="sw")
