"""Who may call: registration, sign-in and tokens, the PIN and its lock, invitations."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from app.errors.base import Conflict, Forbidden, PayTraceError, Unauthorized


class AlreadyRegistered(Conflict):
    code = "already_registered"


class InvalidCredentials(Unauthorized):
    """Sign-in refused. One answer for an unknown phone, a wrong or expired code and a
    wrong PIN, so that nobody learns from it who is registered."""

    code = "invalid_credentials"

    def __init__(self) -> None:
        super().__init__("the phone number, code or PIN is not right")


class InvalidToken(Unauthorized):
    """An access or refresh token that is malformed, expired, revoked or already used."""

    code = "invalid_token"

    @property
    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer error="invalid_token"'}


class WrongPin(Unauthorized):
    code = "wrong_pin"

    def __init__(self, attempts_left: int) -> None:
        plural = "s" if attempts_left != 1 else ""
        super().__init__(
            f"wrong PIN: {attempts_left} attempt{plural} left", attempts_left=attempts_left
        )
        self.attempts_left = attempts_left


class PinLocked(Forbidden):
    """Money-out is locked by wrong PINs until `until` (timezone-aware); the REST answer
    carries it as `locked_until`."""

    code = "pin_locked"

    def __init__(self, until: datetime, *, now: datetime | None = None) -> None:
        seconds_left = max(1, math.ceil((until - (now or datetime.now(UTC))).total_seconds()))
        minutes = -(-seconds_left // 60)
        super().__init__(
            f"too many wrong PINs: try again in {minutes} minute{'s' if minutes != 1 else ''}",
            seconds_left=seconds_left,
        )
        self.until: datetime | None = until
        self.seconds_left: int | None = seconds_left

    @property
    def reset_required(self) -> bool:
        return self.until is None

    @property
    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.seconds_left)} if self.seconds_left else None

    def body_fields(self) -> dict[str, object]:
        until = self.until.astimezone(UTC).isoformat() if self.until else None
        return {"locked_until": until, "reset_required": self.reset_required}


class PinResetRequired(PinLocked):
    """Locked too many times: only an operator's unlock or a reset with a code sent by
    SMS opens the PIN again (`until` is None)."""

    code = "pin_reset_required"

    def __init__(self) -> None:
        Forbidden.__init__(
            self,
            "too many wrong PINs: reset the PIN with a code sent by SMS, or call support",
        )
        self.until = None
        self.seconds_left = None


class InviteLimitReached(PayTraceError):
    """The sender has sent the day's invitation SMS (INVITES_PER_SENDER_PER_DAY)."""

    status_code = 429
    code = "invite_limit_reached"

    def __init__(self, limit: int) -> None:
        super().__init__(f"at most {limit} invitations a day: try again tomorrow", limit=limit)
        self.limit = limit
