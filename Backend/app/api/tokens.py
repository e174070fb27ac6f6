"""Shared-secret callback tokens (AT's USSD and SMS callbacks)."""

from __future__ import annotations

import hmac

from pydantic import SecretStr


def token_matches(expected: SecretStr | None, given: str | None) -> bool:
    """True when no token is configured, or `given` equals it (constant-time compare)."""
    if expected is None:
        return True
    return hmac.compare_digest((given or "").encode(), expected.get_secret_value().encode())
