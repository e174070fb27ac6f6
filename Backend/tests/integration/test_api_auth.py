"""The sign-in services against real PostgreSQL: expiry, single use under concurrency,
rotation under concurrency, and what is stored."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from app.api.app import create_app
from app.db.unit_of_work import UnitOfWork
from app.errors import InvalidCredentials, InvalidToken
from app.services import api_auth, otp
from app.services.api_auth import RefreshTokenReused
from app.services.keys import SmsSeal
from app.services.otp import OtpKit
from app.services.pins import PinHasher, PinPolicy
from tests.conftest import LiveServer
from tests.support.wallets import phone_of, register, registration_secrets

PIN = "4821"
JANE = phone_of(1)
TTL = timedelta(days=30)


@pytest.fixture
def kit(settings) -> OtpKit:
    return OtpKit.from_settings(settings)


@pytest.fixture
def jane(settings, clean_database) -> int:
    box, pin_hash = registration_secrets(settings, PIN)
    return register(clean_database, box, pin_hash, phone=JANE, name="Jane Wanjiku")


def sent_code(database, seal: SmsSeal) -> str:
    """The newest code, read as the worker reads it: by opening the sealed SMS."""
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT payload->>'sealed' FROM outbox WHERE payload->>'template' = 'otp'"
            " ORDER BY id DESC LIMIT 1"
        )
        sealed = cur.fetchone()[0]
        conn.rollback()
    return seal.open(sealed).split("code: ")[1][:6]


def sign_in(database, settings, kit, code, now=None):
    return api_auth.sign_in(
        UnitOfWork(database),
        kit,
        PinHasher.from_settings(settings),
        PinPolicy.from_settings(settings),
        phone=JANE,
        code=code,
        pin=PIN,
        refresh_ttl=TTL,
        now=now,
    )


def test_a_code_expires_after_its_ttl(settings, clean_database, kit, jane):
    start = datetime.now(UTC)
    assert otp.request_code(UnitOfWork(clean_database), kit, phone=JANE, purpose="login", now=start)
    code = sent_code(clean_database, kit.seal)
    late = start + timedelta(seconds=kit.policy.ttl_s)
    with pytest.raises(InvalidCredentials):
        sign_in(clean_database, settings, kit, code, now=late)
    assert sign_in(clean_database, settings, kit, code, now=late - timedelta(seconds=1))


def test_a_code_used_by_many_requests_at_once_signs_in_exactly_once(
    settings, clean_database, kit, jane
):
    otp.request_code(UnitOfWork(clean_database), kit, phone=JANE, purpose="login")
    code = sent_code(clean_database, kit.seal)

    def attempt(_: int) -> str:
        try:
            sign_in(clean_database, settings, kit, code)
            return "in"
        except InvalidCredentials:
            return "refused"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(attempt, range(8)))
    assert outcomes.count("in") == 1 and outcomes.count("refused") == 7


def test_one_refresh_token_used_twice_at_once_rotates_once_and_ends_the_session(
    settings, clean_database, kit, jane
):
    otp.request_code(UnitOfWork(clean_database), kit, phone=JANE, purpose="login")
    grant = sign_in(clean_database, settings, kit, sent_code(clean_database, kit.seal))

    def use(_: int) -> str:
        try:
            api_auth.refresh(
                UnitOfWork(clean_database), refresh_token=grant.refresh_token, refresh_ttl=TTL
            )
            return "rotated"
        except RefreshTokenReused:
            return "reused"
        except InvalidToken:
            return "refused"

    with ThreadPoolExecutor(4) as pool:
        outcomes = sorted(pool.map(use, range(4)))
    assert outcomes.count("rotated") == 1 and outcomes.count("reused") >= 1
    with clean_database.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT revoked_reason FROM api_sessions")
        assert cur.fetchall() == [("reused",)]
        conn.rollback()


def test_a_login_code_is_never_sent_to_a_number_that_is_not_registered(clean_database, kit):
    assert not otp.request_code(UnitOfWork(clean_database), kit, phone=phone_of(7), purpose="login")
    with clean_database.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM outbox")
        assert cur.fetchone() == (0,)
        conn.rollback()


def test_cors_preflight_allows_only_the_configured_origins(live_settings):
    settings = live_settings.model_copy(update={"cors_allow_origins": ["https://pwa.example"]})
    asked = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,idempotency-key,content-type",
    }
    with LiveServer(create_app(settings), settings.port) as server:
        url = f"{server.url}/api/v1/transfers"
        allowed = httpx.options(url, headers={"Origin": "https://pwa.example", **asked})
        refused = httpx.options(url, headers={"Origin": "https://evil.example", **asked})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://pwa.example"
    assert "access-control-allow-origin" not in refused.headers
