"""Signing in to the REST API: phone + one-time code + PIN, and rotating sessions.

A session is one signed-in device. It holds one live refresh token at a time:
each refresh uses the token up and issues the next. A token used a second time
means two parties hold it (one of them a thief), so the whole session ends.
Access tokens themselves are issued by the API from what these functions return
(app/services/access_tokens.py).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from app.db.unit_of_work import UnitOfWork
from app.errors import InvalidCredentials, InvalidToken, WrongPin
from app.services import otp, pins
from app.services.custody import SecretBox
from app.services.otp import OtpKit
from app.services.registration import NewUser, Registered, check_new_user, register_in


@dataclass(frozen=True)
class SessionGrant:
    """A session opened or refreshed: what the API turns into tokens."""

    user_id: int
    session_id: uuid.UUID
    refresh_token: str  # shown to the client once; stored only as its SHA-256
    refresh_expires_at: datetime


class RefreshTokenReused(InvalidToken):
    """A refresh token was used twice: its session has been ended."""

    def __init__(self, session_id: uuid.UUID) -> None:
        super().__init__("this refresh token was already used: the session has been ended")
        self.session_id = session_id


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _grant(
    uow: UnitOfWork, user_id: int, session_id: uuid.UUID, ttl: timedelta, now: datetime
) -> SessionGrant:
    token = secrets.token_urlsafe(32)
    expires_at = now + ttl
    uow.api_sessions.add_refresh_token(
        token_hash=token_hash(token), session_id=session_id, expires_at=expires_at
    )
    return SessionGrant(user_id, session_id, token, expires_at)


def _open_session(uow: UnitOfWork, user_id: int, ttl: timedelta, now: datetime) -> SessionGrant:
    session_id = uuid.uuid4()
    uow.api_sessions.open(session_id, user_id)
    return _grant(uow, user_id, session_id, ttl, now)


def check_login_code(
    uow: UnitOfWork,
    kit: OtpKit,
    *,
    phone: str,
    code: str,
    address: str = "",
    now: datetime | None = None,
) -> int:
    """The id of phone's live login code when `code` is it (see otp.check_code).

    The first step of signing in, apart so that the API can count attempts per
    phone only for callers who hold the phone. Raises InvalidCredentials.
    """
    return otp.check_code(
        uow, kit, phone=phone, purpose="login", code=code, address=address, now=now
    )


def sign_in_with_code(
    uow: UnitOfWork,
    hasher: pins.PinHasher,
    policy: pins.PinPolicy,
    *,
    phone: str,
    otp_id: int,
    pin: str,
    refresh_ttl: timedelta,
    now: datetime | None = None,
) -> SessionGrant:
    """Check the PIN of the holder of a checked login code, use the code up and open a
    session; two transactions. Raises InvalidCredentials for a wrong PIN (or a code a
    concurrent sign-in used first), PinLocked / PinResetRequired when locked.
    """
    now = now or datetime.now(UTC)
    with uow:
        user = uow.users.get_by_phone(phone)
    if user is None:  # login codes go to registered phones only
        raise InvalidCredentials()
    try:
        pins.verify_pin(
            uow,
            hasher,
            policy,
            user_id=user.id,
            pin=pin,
            # Each sign-in is its own attempt: a wrong PIN here counts like one on USSD.
            attempt_key=f"api:login:{otp_id}:{uuid.uuid4().hex}",
            now=now,
        )
    except WrongPin:
        raise InvalidCredentials() from None
    with uow:
        if not uow.otps.consume(otp_id, now):  # a concurrent sign-in used it first
            raise InvalidCredentials()
        grant = _open_session(uow, user.id, refresh_ttl, now)
        uow.commit()
    return grant


def sign_in(
    uow: UnitOfWork,
    kit: OtpKit,
    hasher: pins.PinHasher,
    policy: pins.PinPolicy,
    *,
    phone: str,
    code: str,
    pin: str,
    refresh_ttl: timedelta,
    address: str = "",
    now: datetime | None = None,
) -> SessionGrant:
    """Open a session for the holder of phone's login code and PIN; three transactions.

    The code is checked first, so that nobody without it can spend the user's PIN
    attempts (and lock them out of USSD money-out too). Raises InvalidCredentials
    for an unknown phone, a wrong code and a wrong PIN alike; PinLocked (after a
    right code) when the PIN is locked, on either channel.
    """
    now = now or datetime.now(UTC)
    otp_id = check_login_code(uow, kit, phone=phone, code=code, address=address, now=now)
    return sign_in_with_code(
        uow, hasher, policy, phone=phone, otp_id=otp_id, pin=pin, refresh_ttl=refresh_ttl, now=now
    )


def register_and_sign_in(
    uow: UnitOfWork,
    kit: OtpKit,
    box: SecretBox,
    *,
    phone: str,
    full_name: str,
    pin_hash: str,
    language: str,
    code: str,
    refresh_ttl: timedelta,
    address: str = "",
    now: datetime | None = None,
) -> tuple[Registered, SessionGrant]:
    """Register the holder of phone's registration code and open their first session.

    Bad input is refused before the code is looked at (a typo must not spend it).
    Then the code is used up, the user, wallet and welcome SMS created (the same
    registration as USSD's, keyed by the code) and the session opened, in one
    transaction. Raises what register_user raises for bad input (ValidationFailed),
    InvalidCredentials for a wrong or stale code, and AlreadyRegistered when the
    phone registered meanwhile (e.g. over USSD).
    """
    now = now or datetime.now(UTC)
    new = NewUser(
        phone=phone,
        full_name=full_name,
        pin_hash=pin_hash,
        language=language,
        registration_key="api:pending",
    )
    check_new_user(new)
    otp_id = otp.check_code(
        uow, kit, phone=phone, purpose="register", code=code, address=address, now=now
    )
    new = replace(new, registration_key=f"api:otp:{otp_id}")
    with uow:
        if not uow.otps.consume(otp_id, now):
            raise InvalidCredentials()
        done = register_in(uow, box, new, shortcode=kit.shortcode, now=now)
        grant = _open_session(uow, done.user.id, refresh_ttl, now)
        uow.commit()
    return done, grant


def refresh(
    uow: UnitOfWork, *, refresh_token: str, refresh_ttl: timedelta, now: datetime | None = None
) -> SessionGrant:
    """Use a refresh token up and issue the next one of its session; commits.

    Raises InvalidToken for an unknown, expired or revoked token, and
    RefreshTokenReused (after ending the session) for a token used before.
    """
    now = now or datetime.now(UTC)
    with uow:
        row = uow.api_sessions.refresh_token_for_update(token_hash(refresh_token))
        if row is None or row.session_revoked_at is not None or row.expires_at <= now:
            raise InvalidToken("the refresh token is not valid: sign in again")
        if row.used_at is not None:
            uow.api_sessions.revoke(row.session_id, "reused", now)
            uow.commit()
            raise RefreshTokenReused(row.session_id)
        uow.api_sessions.mark_used(row.token_hash, now)
        grant = _grant(uow, row.user_id, row.session_id, refresh_ttl, now)
        uow.commit()
    return grant


def sign_out(uow: UnitOfWork, *, session_id: uuid.UUID, now: datetime | None = None) -> bool:
    """End a session and every refresh token of it; commits. False if it had ended."""
    with uow:
        ended = uow.api_sessions.revoke(session_id, "logout", now or datetime.now(UTC))
        uow.commit()
    return ended
