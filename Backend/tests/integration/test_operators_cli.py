"""`python -m app.cli.operators`: an operator is created with no default password, its TOTP
URI printed once; a second one with the same email is refused; disable stops sign-in."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pyotp
import pytest

from app.cli import operators as cli
from app.db.unit_of_work import UnitOfWork
from app.errors import SignInRefused
from app.services import operators
from app.services.custody import SecretBox
from app.services.pins import PinHasher

PASSWORD = "a long and new password"


@pytest.fixture
def environment(settings, monkeypatch):
    monkeypatch.setenv("ENVIRONMENT", "test")
    monkeypatch.setenv("DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("PIN_KDF_TIME_COST", "1")
    monkeypatch.setenv("PIN_KDF_MEMORY_KIB", "1024")
    return settings


def create(monkeypatch, email: str, password: str = PASSWORD, role: str = "admin") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    return cli.main(["create", "--role", role, "--email", email, "--password-stdin"])


def test_create_prints_the_totp_uri_once_and_never_the_password(
    environment, clean_database, monkeypatch, capsys
):
    assert create(monkeypatch, "Ops@PayTrace.test") == 0
    out = capsys.readouterr().out
    assert PASSWORD not in out
    uris = [line for line in out.splitlines() if line.startswith("otpauth://")]
    assert len(uris) == 1
    totp = pyotp.parse_uri(uris[0])
    assert totp.issuer == "PayTrace console" and totp.name == "ops@paytrace.test"
    # The operator signs in with that password and the app's code.
    signed = operators.sign_in(
        UnitOfWork(clean_database),
        PinHasher.from_settings(environment),
        SecretBox.from_settings(environment),
        email="ops@paytrace.test",
        password=PASSWORD,
        code=totp.now(),
        now=datetime.now(UTC),
    )
    assert signed.role == "admin"


def test_create_refuses_a_short_password_and_a_taken_email(
    environment, clean_database, monkeypatch, capsys
):
    assert create(monkeypatch, "ops@paytrace.test", password="short") == 1
    assert "12 to 128 characters" in capsys.readouterr().err
    assert create(monkeypatch, "ops@paytrace.test") == 0
    assert create(monkeypatch, "OPS@paytrace.test") == 1
    assert "exists" in capsys.readouterr().err


def test_a_disabled_operator_cannot_sign_in(environment, clean_database, monkeypatch, capsys):
    assert create(monkeypatch, "ops@paytrace.test", role="operator") == 0
    seed = pyotp.parse_uri(capsys.readouterr().out.splitlines()[-1]).secret
    assert cli.main(["disable", "--email", "ops@paytrace.test"]) == 0
    assert cli.main(["disable", "--email", "nobody@paytrace.test"]) == 1
    with pytest.raises(SignInRefused):
        operators.sign_in(
            UnitOfWork(clean_database),
            PinHasher.from_settings(environment),
            SecretBox.from_settings(environment),
            email="ops@paytrace.test",
            password=PASSWORD,
            code=pyotp.TOTP(seed).now(),
            now=datetime.now(UTC),
        )


def test_the_last_enabled_admin_cannot_be_disabled_from_the_shell(
    environment, clean_database, monkeypatch, capsys
):
    assert create(monkeypatch, "first@paytrace.test") == 0
    assert cli.main(["disable", "--email", "first@paytrace.test"]) == 1
    assert "at least one enabled admin" in capsys.readouterr().err
    assert create(monkeypatch, "second@paytrace.test") == 0
    assert cli.main(["disable", "--email", "first@paytrace.test"]) == 0
    assert cli.main(["disable", "--email", "second@paytrace.test"]) == 1  # now the last
    assert cli.main(["enable", "--email", "first@paytrace.test"]) == 0
    with UnitOfWork(clean_database) as uow:
        enabled = [o.email for o in uow.operators.all() if not o.disabled]
    assert enabled == ["first@paytrace.test", "second@paytrace.test"]
