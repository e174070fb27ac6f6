import pytest
from pydantic import ValidationError

from app.config import Settings


def test_blank_secrets_in_env_mean_unset_not_empty(monkeypatch, tmp_path):
    monkeypatch.setenv("PIN_PEPPER", "")
    monkeypatch.setenv("AT_API_KEY", "  ")
    settings = Settings(_env_file=None, environment="development", data_dir=tmp_path)
    assert settings.pin_pepper is not None and settings.pin_pepper.get_secret_value() != ""
    assert settings.at_api_key is None and settings.sms_sandbox_enabled


def test_development_secrets_are_generated_once_and_kept(tmp_path):
    first = Settings(_env_file=None, environment="development", data_dir=tmp_path)
    second = Settings(_env_file=None, environment="development", data_dir=tmp_path)
    assert first.pin_pepper == second.pin_pepper
    assert first.wallet_encryption_keys == second.wallet_encryption_keys


@pytest.mark.parametrize("missing", ["PIN_PEPPER", "SESSION_SECRET", "WALLET_ENCRYPTION_KEYS"])
def test_production_refuses_missing_or_placeholder_secrets(monkeypatch, tmp_path, missing):
    from cryptography.fernet import Fernet

    values = {
        "PIN_PEPPER": "p" * 32,
        "SESSION_SECRET": "s" * 32,
        "WALLET_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "AT_API_KEY": "k",
        "DATABASE_URL": "postgresql://db/paytrace",
        "REDIS_URL": "redis://cache:6379/0",
    }
    values[missing] = "changeme" if missing != "WALLET_ENCRYPTION_KEYS" else ""
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValidationError):
        Settings(_env_file=None, environment="production", data_dir=tmp_path)


def test_service_codes_read_as_a_comma_separated_list(monkeypatch):
    monkeypatch.setenv("USSD_SERVICE_CODES", "*384*123#, *384*124#")
    assert Settings(_env_file=None).ussd_service_codes == ["*384*123#", "*384*124#"]
