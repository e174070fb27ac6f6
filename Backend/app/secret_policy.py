"""What a production secret must look like: long, varied, and nobody's placeholder.

"Not a placeholder" alone let `p` * 32 or `changemechangeme...` through. A secret that
signs tokens, peppers PINs or proves a caller is AT or Safaricom must be long and
random: at least SECRET_MIN_LENGTH characters with SECRET_MIN_DISTINCT different ones,
not a known placeholder and not a keyboard run. `secrets.token_urlsafe(32)` (43
characters) always passes. Refusals name the setting, never its value: the message
ends up in start-up logs.
"""

from __future__ import annotations

from itertools import pairwise

from pydantic import SecretStr

# HS256 keys and HMAC peppers shorter than the hash (32 bytes) weaken what they sign.
SECRET_MIN_LENGTH = 32
# `aaaa...`, `abab...` and a word repeated to length have far fewer.
SECRET_MIN_DISTINCT = 10
# Compared without case and without separators, e.g. "Change_Me" -> "changeme".
PLACEHOLDERS = frozenset(
    {
        "changeme",
        "changemeplease",
        "pleasechange",
        "replaceme",
        "secret",
        "password",
        "token",
        "example",
        "placeholder",
        "default",
        "todo",
        "xxx",
        "test",
        "dev",
        "development",
        "paytrace",
    }
)
# A placeholder word anywhere in the value marks a template left unedited.
_MARKERS = ("changeme", "replaceme", "pleasechange", "placeholder", "yoursecret", "example")
GENERATE_HINT = 'generate one: python -c "import secrets; print(secrets.token_urlsafe(32))"'


class WeakSecret(ValueError):
    """A production secret is missing or weak; the message names the setting only."""


def _folded(value: str) -> str:
    return "".join(ch for ch in value.lower() if ch.isalnum())


def _is_keyboard_run(value: str) -> bool:
    """Mostly one-step runs: `abcdef...`, `0123456789...`, `zyxw...`."""
    steps = [ord(b) - ord(a) for a, b in pairwise(value)]
    runs = sum(1 for step in steps if step in (1, -1))
    return runs * 2 > len(steps)


def weakness(value: str) -> str | None:
    """Why `value` is unfit to be a production secret, or None when it is fit."""
    folded = _folded(value)
    if folded in PLACEHOLDERS or any(marker in folded for marker in _MARKERS):
        return "is a placeholder"
    if len(value) < SECRET_MIN_LENGTH:
        return f"is shorter than {SECRET_MIN_LENGTH} characters"
    if len(set(value)) < SECRET_MIN_DISTINCT:
        return f"has fewer than {SECRET_MIN_DISTINCT} different characters"
    if _is_keyboard_run(value):
        return "is a run of consecutive characters"
    return None


def check_secret(name: str, value: SecretStr | str | None, *, required: bool = True) -> None:
    """Accept a strong secret (or an absent optional one); raises WeakSecret naming `name`."""
    if value is None:
        if required:
            raise WeakSecret(f"{name} must be set in production ({GENERATE_HINT})")
        return
    raw = value.get_secret_value() if isinstance(value, SecretStr) else value
    reason = weakness(raw)
    if reason is not None:
        raise WeakSecret(
            f"{name} {reason}: production needs at least {SECRET_MIN_LENGTH} random"
            f" characters ({GENERATE_HINT})"
        )
