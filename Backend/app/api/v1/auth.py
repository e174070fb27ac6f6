"""Sign-in and registration: /api/v1/auth/* and /api/v1/workers/register.

A client asks for a code by SMS, then exchanges phone + code + PIN for a
15-minute access token and a refresh token that rotates on every use. Answers
never tell a registered number from an unregistered one.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, status

from app.api.phone_input import e164
from app.api.v1.context import Api, ApiServices, CurrentUser, client_address
from app.api.v1.models import (
    MeOut,
    OtpRequest,
    OtpSent,
    PinResetOut,
    PinResetRequest,
    RefreshRequest,
    RegisteredOut,
    RegisterRequest,
    SignedOut,
    TokenOut,
    TokenRequest,
)
from app.api.v1.responses import COMMON, SIGNED_IN, errors
from app.errors import refused
from app.services import api_auth, otp, pin_reset, pins
from app.services.accounts import profile_of
from app.services.api_auth import RefreshTokenReused, SessionGrant

log = logging.getLogger("paytrace.api")

router = APIRouter(prefix="/api/v1", tags=["auth"], responses=COMMON)
Address = Annotated[str, Depends(client_address)]


def _tokens(api: ApiServices, grant: SessionGrant) -> dict[str, object]:
    return {
        "access_token": api.tokens.issue(grant.user_id, grant.session_id),
        "expires_in": api.tokens.ttl_s,
        "refresh_token": grant.refresh_token,
        "refresh_expires_at": grant.refresh_expires_at,
    }


async def _limit_sign_in(api: ApiServices, phone: str, address: str) -> None:
    """Attempts per client address and per (phone, address): a stranger spends only
    their own. The phone's own count waits for a right code (_limit_code_holder)."""
    settings = api.runtime.settings
    await api.limiter.hit("signin", "addr", address, limit=settings.login_attempts_per_address)
    await api.limiter.hit(
        "signin",
        "phone_addr",
        phone,
        address,
        limit=settings.login_attempts_per_phone_and_address,
    )


async def _limit_code_holder(api: ApiServices, phone: str) -> None:
    """Attempts per phone by callers who showed its right code: attempts at the PIN."""
    await api.limiter.hit(
        "signin", "phone", phone, limit=api.runtime.settings.login_attempts_per_phone
    )


@router.post(
    "/auth/otp",
    summary="Send a one-time code by SMS",
    status_code=status.HTTP_202_ACCEPTED,
    responses=errors(429),
)
async def send_code(body: OtpRequest, api: Api, address: Address) -> OtpSent:
    """Ask for a 6-digit code to sign in (`login`) or to open a wallet (`register`).

    The answer is the same whether or not the number is registered; only the phone
    learns (by SMS) whether a code was sent. Limited per phone and per address."""
    phone = e164(body.phone)
    settings = api.runtime.settings
    await api.limiter.hit("otp", "addr", address, limit=settings.otp_requests_per_address)
    await api.limiter.hit("otp", "phone", phone, limit=settings.otp_requests_per_phone)
    await api.services.run(
        otp.request_code, api.otp_kit, phone=phone, purpose=body.purpose, language=body.language
    )
    return OtpSent(
        detail="if this number can use it, a code is on its way by SMS",
        expires_in=api.otp_kit.policy.ttl_s,
    )


@router.post("/auth/token", summary="Sign in: phone + code + PIN", responses=errors(401, 403, 429))
async def sign_in(body: TokenRequest, api: Api, address: Address) -> TokenOut:
    """Exchange the SMS code and the PIN for an access token (15 minutes) and a refresh
    token. A wrong PIN counts toward the same lock as on USSD; a locked PIN answers 403
    `pin_locked` with `locked_until`, or `pin_reset_required` (reset it with
    `POST /auth/pin-reset`)."""
    phone = e164(body.phone)
    await _limit_sign_in(api, phone, address)
    otp_id = await api.services.run(
        api_auth.check_login_code, api.otp_kit, phone=phone, code=body.otp, address=address
    )
    await _limit_code_holder(api, phone)
    grant = await api.services.run_pin(
        api_auth.sign_in_with_code,
        phone=phone,
        otp_id=otp_id,
        pin=body.pin,
        refresh_ttl=api.refresh_ttl,
    )
    log.info("api sign-in", extra={"user_id": grant.user_id})
    return TokenOut(**_tokens(api, grant))


@router.post("/auth/refresh", summary="Rotate the refresh token", responses=errors(401, 429))
async def refresh(body: RefreshRequest, api: Api, address: Address) -> TokenOut:
    """Use the refresh token once for a new access token and the next refresh token.
    Using a refresh token a second time ends its whole session."""
    await api.limiter.hit(
        "refresh", "addr", address, limit=api.runtime.settings.login_attempts_per_address
    )
    try:
        grant = await api.services.run(
            api_auth.refresh, refresh_token=body.refresh_token, refresh_ttl=api.refresh_ttl
        )
    except RefreshTokenReused as exc:
        log.warning("refresh token reused: session ended", extra={"session": str(exc.session_id)})
        await api.end_access(exc.session_id)
        raise
    return TokenOut(**_tokens(api, grant))


@router.post("/auth/logout", summary="Sign out this device", responses=SIGNED_IN)
async def sign_out(api: Api, caller: CurrentUser) -> SignedOut:
    """End the session of this access token: its refresh token and access tokens stop working."""
    await api.services.run(api_auth.sign_out, session_id=caller.session_id)
    await api.end_access(caller.session_id)
    return SignedOut()


@router.post(
    "/workers/register",
    summary="Open a wallet (after a `register` code)",
    status_code=status.HTTP_201_CREATED,
    responses=errors(401, 409, 429),
)
async def register(body: RegisterRequest, api: Api, address: Address) -> RegisteredOut:
    """Create the same user, PIN and custodied Stellar wallet as USSD registration, with
    the phone proven by the code from `POST /auth/otp` (`purpose: register`); the new
    user is signed in at once. A welcome SMS follows."""
    phone = e164(body.phone)
    if not body.accept_terms:
        raise refused("terms_not_accepted", "the terms must be accepted to open a wallet")
    pins.check_new_pin(body.pin)
    await _limit_sign_in(api, phone, address)
    pin_hash = await api.services.hash_pin(body.pin)
    done, grant = await api.services.run(
        api_auth.register_and_sign_in,
        api.otp_kit,
        api.services.box,
        phone=phone,
        full_name=body.full_name,
        pin_hash=pin_hash,
        language=body.language,
        code=body.otp,
        refresh_ttl=api.refresh_ttl,
        address=address,
    )
    await api.forget_profile(phone)  # a cached "not registered" must not linger on USSD
    log.info("api registration", extra={"user_id": done.user.id})
    profile = profile_of(done.user, done.wallet.stellar_address, done.wallet.activation_status)
    return RegisteredOut(user=MeOut.of(profile), **_tokens(api, grant))


@router.post(
    "/auth/pin-reset",
    summary="Reset the PIN with a code sent by SMS",
    responses=errors(401, 429),
)
async def reset_pin(body: PinResetRequest, api: Api, address: Address) -> PinResetOut:
    """Choose a new PIN with the code from `POST /auth/otp` (`purpose: pin_reset`): the
    way out of a forgotten PIN or of `pin_reset_required`. Every lock is cleared and the
    user is told by SMS. A weak PIN is refused before the code is looked at. Limited
    like sign-in, and the code's own limits apply."""
    phone = e164(body.phone)
    pins.check_new_pin(body.new_pin)
    await _limit_sign_in(api, phone, address)
    pin_hash = await api.services.hash_pin(body.new_pin)
    user_id = await api.services.run(
        pin_reset.reset_pin,
        api.otp_kit,
        phone=phone,
        code=body.otp,
        pin_hash=pin_hash,
        address=address,
    )
    log.info("api PIN reset", extra={"user_id": user_id})
    return PinResetOut()
