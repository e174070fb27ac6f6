"""Operators of the console and signed-in browsers (httpx clients) for console tests."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pyotp

from app.config import Settings
from app.db.pool import Database
from app.db.unit_of_work import UnitOfWork
from app.services import operators
from app.services.custody import SecretBox
from app.services.operators import TOTP_PERIOD_S
from app.services.pins import PinHasher

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass(frozen=True)
class TestOperator:
    id: int
    email: str
    role: str
    seed: str  # the TOTP seed the authenticator app holds

    def code(self, steps_ahead: int = 0) -> str:
        """The TOTP code of the current step (+ steps_ahead: a code is good only once)."""
        now = datetime.now(UTC).timestamp() + steps_ahead * TOTP_PERIOD_S
        return pyotp.TOTP(self.seed).at(int(now))


def make_operator(settings: Settings, database: Database, role: str, email: str) -> TestOperator:
    """An operator created through the real service, as `app.cli.operators create` does."""
    created = operators.create(
        UnitOfWork(database),
        PinHasher.from_settings(settings),
        SecretBox.from_settings(settings),
        email=email,
        role=role,
        password=PASSWORD,
    )
    seed = pyotp.parse_uri(created.provisioning_uri).secret
    return TestOperator(created.operator.id, created.operator.email, role, seed)


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def sign_in(client: httpx.Client, email: str, password: str, code: str) -> httpx.Response:
    """Post the sign-in form as a browser does (its CSRF token from the login page)."""
    page = client.get("/console/login")
    return client.post(
        "/console/login",
        data={"csrf": csrf_of(page.text), "email": email, "password": password, "code": code},
    )
