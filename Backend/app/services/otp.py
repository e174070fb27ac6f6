"""One-time codes by SMS: how a REST client proves that it holds a phone.

A code is 6 digits from a CSPRNG, stored only as a keyed hash, valid for a few
minutes, used once, and dead after a few wrong tries; only the newest code of a
phone and purpose counts. Whether a code was sent is never told to the caller:
asking for a code answers the same for every number.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.config import Settings
from app.db.unit_of_work import UnitOfWork
from app.errors import InvalidCredentials, refused
from app.services.keys import OtpHasher, SmsSeal
from app.services.notifications import queue_sms
from app.services.registration import validate_language

PURPOSES = ("login", "register", "pin_reset")
# Purposes whose codes go only to registered phones.
_FOR_USERS = ("login", "pin_reset")
CODE_DIGITS = 6


@dataclass(frozen=True)
class OtpPolicy:
    ttl_s: int = 300
    max_attempts: int = 5  # wrong tries of one code from one client address
    max_attempts_per_code: int = 20  # from every address together

    @classmethod
    def from_settings(cls, settings: Settings) -> OtpPolicy:
        """OTP_TTL_S, OTP_MAX_ATTEMPTS and OTP_MAX_ATTEMPTS_PER_CODE; raises nothing."""
        return cls(
            ttl_s=settings.otp_ttl_s,
            max_attempts=settings.otp_max_attempts,
            max_attempts_per_code=settings.otp_max_attempts_per_code,
        )


@dataclass(frozen=True)
class OtpKit:
    """What issuing and checking codes needs: the keyed hash, the SMS seal, the policy."""

    hasher: OtpHasher
    seal: SmsSeal
    policy: OtpPolicy
    shortcode: str

    @classmethod
    def from_settings(cls, settings: Settings) -> OtpKit:
        """Raises ValueError when SESSION_SECRET is missing."""
        return cls(
            hasher=OtpHasher.from_settings(settings),
            seal=SmsSeal.from_settings(settings),
            policy=OtpPolicy.from_settings(settings),
            shortcode=settings.ussd_service_codes[0],
        )


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def request_code(
    uow: UnitOfWork,
    kit: OtpKit,
    *,
    phone: str,
    purpose: str,
    language: str = "en",
    now: datetime | None = None,
) -> bool:
    """Send a code by SMS when the phone may use it for purpose; commits.

    'login' and 'pin_reset' codes go only to registered phones, 'register' codes
    only to phones that are not; a registered phone asking to register is told so
    by SMS instead.
    Returns whether a code was queued: for tests and logs, never for the caller.
    Raises ValidationFailed (codes 'invalid_purpose', 'invalid_language').
    """
    if purpose not in PURPOSES:
        raise refused("invalid_purpose", "the purpose must be 'login', 'register' or 'pin_reset'")
    validate_language(language)
    now = now or datetime.now(UTC)
    with uow:
        user = uow.users.get_by_phone(phone)
        if purpose in _FOR_USERS and user is None:
            return False
        if purpose == "register" and user is not None:
            queue_sms(
                uow,
                to=phone,
                template="otp_already_registered",
                language=user.language,
                # One such notice per phone and window, however often it is asked.
                dedupe_key=f"otp_already_registered:{phone}:{int(now.timestamp()) // 3600}",
                shortcode=kit.shortcode,
            )
            uow.commit()
            return False
        code = new_code()
        otp_id = uow.otps.add(
            phone=phone,
            purpose=purpose,
            code_hash=kit.hasher.hash(phone, purpose, code),
            expires_at=now + timedelta(seconds=kit.policy.ttl_s),
        )
        queue_sms(
            uow,
            to=phone,
            template="otp",
            language=user.language if user is not None else language,
            dedupe_key=f"otp:{otp_id}",
            seal=kit.seal,
            code=code,
            minutes=max(1, kit.policy.ttl_s // 60),
        )
        uow.commit()
    return True


def check_code(
    uow: UnitOfWork,
    kit: OtpKit,
    *,
    phone: str,
    purpose: str,
    code: str,
    address: str = "",
    now: datetime | None = None,
) -> int:
    """The id of the phone's live code for purpose when `code` is it; commits a miss.

    Wrong tries are counted per client address (`address`, "" when unknown) and in
    total: a code is dead for an address after OTP_MAX_ATTEMPTS of its tries, and for
    everyone after OTP_MAX_ATTEMPTS_PER_CODE, so a stranger's junk cannot kill the
    owner's code and guessing stays bounded. Does not use the code up: the caller
    consumes it (OtpRepository.consume) in the transaction that acts on it. Raises
    InvalidCredentials for no code, an expired, used or dead code, or a wrong one.
    """
    now = now or datetime.now(UTC)
    policy = kit.policy
    with uow:
        otp = uow.otps.newest_for_update(phone, purpose)
        if (
            otp is None
            or otp.consumed_at is not None
            or otp.expires_at <= now
            or otp.attempts >= policy.max_attempts_per_code
            or uow.otps.failures_from(otp.id, address) >= policy.max_attempts
        ):
            raise InvalidCredentials()
        if not kit.hasher.matches(otp.code_hash, phone, purpose, code):
            uow.otps.count_failure(otp.id, address)
            uow.commit()
            raise InvalidCredentials()
    return otp.id
