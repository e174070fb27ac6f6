"""Shared-secret callback tokens (AT's USSD and SMS callbacks, Daraja's callbacks).

During a rotation two tokens are live: the new one and the one being retired
(`*_CALLBACK_TOKEN_PREVIOUS`), so callbacks already configured or in flight with the
old token are not refused. Both are always compared, in constant time.
"""

from __future__ import annotations

import hmac

from pydantic import SecretStr


def _same(expected: SecretStr, given: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.get_secret_value().encode())


def token_matches(expected: SecretStr | None, given: str | None) -> bool:
    """True when no token is configured, or `given` equals it (constant-time compare)."""
    if expected is None:
        return True
    return _same(expected, given or "")


def callback_token_matches(
    current: SecretStr | None, previous: SecretStr | None, given: str | None
) -> bool:
    """True when no token is configured, or `given` equals the current or the previous
    one. Both comparisons always run, so the time taken says nothing about which."""
    configured = [token for token in (current, previous) if token is not None]
    if not configured:
        return True
    results = [_same(token, given or "") for token in configured]
    return any(results)
