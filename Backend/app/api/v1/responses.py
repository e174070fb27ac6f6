"""OpenAPI error answers shared by /api/v1 routes: every failure is ErrorOut."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from app.api.admin_models import ErrorOut


class LockedOut(ErrorOut):
    """A 403: a PIN lock says when it ends; other refusals carry only error and detail."""

    locked_until: datetime | None = Field(
        default=None,
        description="`pin_locked`: when money-out opens again (UTC); null for `pin_reset_required`",
    )
    reset_required: bool | None = Field(
        default=None,
        description="true: only a reset with an SMS code (POST /auth/pin-reset) or "
        "support opens the PIN",
    )


_WHY = {
    400: "the body is not JSON text",
    401: "missing, wrong or expired credentials or token",
    403: "`pin_locked` (with `locked_until`) or `pin_reset_required`: too many wrong PINs "
    "(USSD and REST count together)",
    404: "not found",
    409: "conflict, e.g. `idempotency_key_reused`",
    413: "the request body is too large",
    422: "the request is malformed or breaks a rule (the `error` code says which)",
    429: "`rate_limited`: too many requests, see Retry-After; `invite_limit_reached`",
    503: "a dependency is unavailable; retry",
}


def errors(*codes: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI `responses` for these error statuses."""
    return {
        code: {"model": LockedOut if code == 403 else ErrorOut, "description": _WHY[code]}
        for code in codes
    }


# Every route can answer these.
COMMON = errors(400, 413, 422, 503)
# A token outlives nothing it names in practice (users are never deleted), but a
# route that reads the caller's own records documents the 404 it would give.
SIGNED_IN = errors(401, 404)
