"""Phone numbers as API callers type them, read into E.164."""

from __future__ import annotations

from app.domain.phone import InvalidPhone, normalise
from app.errors import refused


def e164(raw: str) -> str:
    """Raises ValidationFailed (code 'invalid_phone')."""
    try:
        return normalise(raw)
    except InvalidPhone:
        raise refused("invalid_phone", "not a valid phone number") from None
