import json
import re
import secrets

import pytest
from cryptography.fernet import Fernet
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


def _production_values() -> dict[str, str]:
    return {
        "PIN_PEPPER": secrets.token_urlsafe(32),
        "SESSION_SECRET": secrets.token_urlsafe(32),
        "API_TOKEN_SECRET": secrets.token_urlsafe(32),
        "USSD_CALLBACK_TOKEN": secrets.token_urlsafe(32),
        "AT_CALLBACK_TOKEN": secrets.token_urlsafe(32),
        "WALLET_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "AT_API_KEY": "k",
        "DATABASE_URL": "postgresql://db/paytrace",
        "REDIS_URL": "redis://cache:6379/0",
    }


@pytest.mark.parametrize(
    "missing", ["PIN_PEPPER", "SESSION_SECRET", "API_TOKEN_SECRET", "WALLET_ENCRYPTION_KEYS"]
)
def test_production_refuses_missing_or_placeholder_secrets(monkeypatch, tmp_path, missing):

    values = _production_values()
    values[missing] = "changeme" if missing != "WALLET_ENCRYPTION_KEYS" else ""
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValidationError):
        Settings(_env_file=None, environment="production", data_dir=tmp_path)


def test_service_codes_read_as_a_comma_separated_list(monkeypatch, tmp_path):
    monkeypatch.setenv("USSD_SERVICE_CODES", "*384*123#, *384*124#")
    settings = Settings(_env_file=None, environment="test", data_dir=tmp_path)
    assert settings.ussd_service_codes == ["*384*123#", "*384*124#"]


def _production_env(monkeypatch) -> None:
    for key, value in _production_values().items():
        monkeypatch.setenv(key, value)


def test_development_generates_an_admin_token_once_into_the_private_secrets_file(
    monkeypatch, tmp_path
):
    monkeypatch.setenv("ADMIN_TOKEN", "")  # blank means unset, as for every secret
    first = Settings(_env_file=None, environment="development", data_dir=tmp_path)
    second = Settings(_env_file=None, environment="development", data_dir=tmp_path)
    assert first.admin_token is not None and len(first.admin_token.get_secret_value()) >= 32
    assert first.admin_token == second.admin_token
    path = first.dev_secrets_path
    assert json.loads(path.read_text())["admin_token"] == first.admin_token.get_secret_value()
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_secrets_file_from_before_the_admin_token_keeps_its_secrets_and_gains_one(tmp_path):
    older = {"pin_pepper": "old-pepper", "session_secret": "old-session"}
    older["wallet_encryption_key"] = Fernet.generate_key().decode()
    (tmp_path / "dev-secrets.json").write_text(json.dumps(older))

    settings = Settings(_env_file=None, environment="development", data_dir=tmp_path)

    stored = json.loads((tmp_path / "dev-secrets.json").read_text())
    assert {key: stored[key] for key in older} == older  # wallets stay decryptable
    assert settings.pin_pepper.get_secret_value() == "old-pepper"
    assert settings.admin_token.get_secret_value() == stored["admin_token"]


def test_an_admin_token_from_the_environment_wins_in_development(monkeypatch, tmp_path):
    monkeypatch.setenv("ADMIN_TOKEN", "my-own-admin-token-0001")
    settings = Settings(_env_file=None, environment="development", data_dir=tmp_path)
    assert settings.admin_token.get_secret_value() == "my-own-admin-token-0001"


def test_production_starts_without_an_admin_token_and_generates_none(monkeypatch, tmp_path):
    _production_env(monkeypatch)
    monkeypatch.setenv("ADMIN_TOKEN", "")
    settings = Settings(_env_file=None, environment="production", data_dir=tmp_path)
    assert settings.admin_token is None
    assert not settings.dev_secrets_path.exists()


@pytest.mark.parametrize("weak", ["changeme", "secret", "short-token", "Zx8-q2LmT0v7RkW1nB5sYc3"])
def test_production_refuses_a_placeholder_or_short_admin_token(monkeypatch, tmp_path, weak):
    _production_env(monkeypatch)
    monkeypatch.setenv("ADMIN_TOKEN", weak)
    with pytest.raises(ValidationError, match="ADMIN_TOKEN"):
        Settings(_env_file=None, environment="production", data_dir=tmp_path)


def test_production_accepts_a_real_admin_token(monkeypatch, tmp_path):
    _production_env(monkeypatch)
    token = "Zx8-q2LmT0v7RkW1nB5sYc3Hq9aPf4dKu6Ej1WmN"
    monkeypatch.setenv("ADMIN_TOKEN", token)
    settings = Settings(_env_file=None, environment="production", data_dir=tmp_path)
    assert settings.admin_token.get_secret_value() == token


def test_production_refuses_a_short_api_token_secret(monkeypatch, tmp_path):
    _production_env(monkeypatch)
    monkeypatch.setenv("API_TOKEN_SECRET", secrets.token_urlsafe(32)[:31])
    with pytest.raises(ValidationError, match="API_TOKEN_SECRET"):
        Settings(_env_file=None, environment="production", data_dir=tmp_path)


def test_cors_origins_read_as_a_comma_separated_list(monkeypatch, tmp_path):
    monkeypatch.setenv("CORS_ALLOW_ORIGINS", "https://app.paytrace.example, http://localhost:5173")
    settings = Settings(_env_file=None, environment="test", data_dir=tmp_path)
    assert settings.cors_allow_origins == [
        "https://app.paytrace.example",
        "http://localhost:5173",
    ]


def test_env_example_names_every_setting():
    from pathlib import Path

    example = (Path(__file__).resolve().parents[2] / ".env.example").read_text()
    named = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", example, flags=re.MULTILINE))
    missing = {name.upper() for name in Settings.model_fields} - named
    assert not missing, f".env.example does not name: {sorted(missing)}"
