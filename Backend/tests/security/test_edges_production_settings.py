"""Production refuses to start on missing or weak secrets, naming the setting and never
echoing its value; PayTrace is production unless told otherwise; the image, the
compose file and `make run` each ask for the environment they mean."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from app.config import Settings
from app.secret_policy import SECRET_MIN_LENGTH, weakness

REPO = Path(__file__).resolve().parents[3]
REQUIRED = [
    "PIN_PEPPER",
    "SESSION_SECRET",
    "API_TOKEN_SECRET",
    "USSD_CALLBACK_TOKEN",
    "AT_CALLBACK_TOKEN",
]
OPTIONAL = [
    "ADMIN_TOKEN",
    "MPESA_CALLBACK_TOKEN",
    "USSD_CALLBACK_TOKEN_PREVIOUS",
    "AT_CALLBACK_TOKEN_PREVIOUS",
    "MPESA_CALLBACK_TOKEN_PREVIOUS",
]
WEAK = {
    "placeholder": "changeme",
    "placeholder, padded to length": "changeme-changeme-changeme-changeme",
    "a template left unedited": "replace-me-with-a-real-token-0123456789abcdef",
    "one character repeated": "p" * 48,
    "a word repeated": "secret" * 8,
    "a keyboard run": "abcdefghijklmnopqrstuvwxyz0123456789",
    "random but short": secrets.token_urlsafe(32)[: SECRET_MIN_LENGTH - 1],
}


def production_values() -> dict[str, str]:
    return {
        **{name: secrets.token_urlsafe(32) for name in REQUIRED},
        "WALLET_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "AT_API_KEY": "atsk_live_key",
        "DATABASE_URL": "postgresql://db/paytrace",
        "REDIS_URL": "redis://cache:6379/0",
    }


@pytest.fixture
def production_env(monkeypatch, tmp_path):
    """Every production setting, strong, in the environment; ENVIRONMENT itself unset."""
    monkeypatch.delenv("ENVIRONMENT", raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    for name in REQUIRED + OPTIONAL:
        monkeypatch.delenv(name, raising=False)
    for name, value in production_values().items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def refusal(**overrides: str) -> str:
    with pytest.raises(ValidationError) as raised:
        Settings(_env_file=None, **overrides)
    return str(raised.value)


def test_strong_production_settings_start_as_production(production_env):
    settings = Settings(_env_file=None)
    assert settings.environment == "production"
    assert not settings.dev_secrets_path.exists()  # nothing generated


def test_with_no_environment_named_paytrace_is_production_and_refuses_to_start(
    production_env,
):
    production_env.delenv("PIN_PEPPER")
    message = refusal()
    assert "PIN_PEPPER must be set in production" in message


@pytest.mark.parametrize("name", REQUIRED)
def test_production_refuses_to_start_without_each_required_secret(production_env, name):
    production_env.delenv(name)
    assert f"{name} must be set in production" in refusal()


@pytest.mark.parametrize("name", REQUIRED + OPTIONAL)
@pytest.mark.parametrize("weak", WEAK.values(), ids=WEAK.keys())
def test_production_refuses_a_weak_secret_by_name_never_echoing_it(production_env, name, weak):
    production_env.setenv(name, weak)
    message = refusal()
    assert name in message
    assert weak not in message


@pytest.mark.parametrize("name", OPTIONAL)
def test_an_optional_secret_may_be_absent_in_production(production_env, name):
    production_env.delenv(name, raising=False)
    assert getattr(Settings(_env_file=None), name.lower()) is None


def test_a_generated_token_always_passes_the_policy():
    for _ in range(200):
        assert weakness(secrets.token_urlsafe(32)) is None


def test_development_and_test_still_run_without_any_token(monkeypatch, tmp_path):
    monkeypatch.delenv("USSD_CALLBACK_TOKEN", raising=False)
    monkeypatch.delenv("AT_CALLBACK_TOKEN", raising=False)
    for environment in ("development", "test"):
        settings = Settings(_env_file=None, environment=environment, data_dir=tmp_path)
        assert settings.ussd_callback_token is None


def test_production_mounts_no_sandbox(production_env):
    from fastapi.routing import iter_route_contexts

    from app.api.app import create_app

    app = create_app(Settings(_env_file=None))
    paths = [route.path for route in iter_route_contexts(app.routes)]
    assert "/ussd" in paths
    assert not [path for path in paths if path.startswith("/sandbox")]


def test_the_image_and_compose_run_production_and_make_run_asks_for_development():
    dockerfile = (REPO / "Backend" / "Dockerfile").read_text()
    compose = (REPO / "docker-compose.yml").read_text()
    makefile = (REPO / "Backend" / "Makefile").read_text()
    assert "ENV ENVIRONMENT=production" in dockerfile
    assert "ENVIRONMENT: production" in compose
    assert "DEV := ENVIRONMENT=development" in makefile
    for target in ("app.cli.devserver", "app.worker", "app.cli.terminal_phone", "bench.ussd_load"):
        line = next(line for line in makefile.splitlines() if f"-m {target}" in line)
        assert line.strip().startswith("$(DEV) "), line
