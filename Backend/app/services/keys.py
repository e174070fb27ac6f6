"""Keys derived from SESSION_SECRET, one per purpose, and what they protect.

One configured secret yields independent keys (HMAC-SHA256 of a label), so that
a key used for one purpose can never be replayed for another.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken

from app.config import Settings


def derive_key(secret: str, label: str) -> bytes:
    """32 bytes for `label`, independent of every other label's; raises nothing."""
    return hmac.new(secret.encode(), f"paytrace:{label}".encode(), hashlib.sha256).digest()


def _session_secret(settings: Settings) -> str:
    if settings.session_secret is None:  # filled in outside production, required in it
        raise ValueError("SESSION_SECRET is not set")
    return settings.session_secret.get_secret_value()


class UnreadableSeal(ValueError):
    """A sealed text that this key cannot open (tampered, or sealed under another secret)."""


class SmsSeal:
    """Seals the text of an SMS that must not sit readable in the outbox (a one-time code).

    The API seals, the worker opens just before handing the text to Africa's Talking.
    """

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    @classmethod
    def from_settings(cls, settings: Settings) -> SmsSeal:
        """Raises ValueError when SESSION_SECRET is missing."""
        return cls(session_key(settings, "sms-seal"))

    def seal(self, text: str) -> str:
        return self._fernet.encrypt(text.encode()).decode()

    def open(self, sealed: str) -> str:
        """Raises UnreadableSeal."""
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except (InvalidToken, ValueError) as exc:
            raise UnreadableSeal("the sealed SMS cannot be opened with this key") from exc


class OtpHasher:
    """HMAC-SHA256 of (phone, purpose, code): a code is worthless without the key."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def from_settings(cls, settings: Settings) -> OtpHasher:
        """Raises ValueError when SESSION_SECRET is missing."""
        return cls(session_key(settings, "otp"))

    def hash(self, phone: str, purpose: str, code: str) -> str:
        message = f"{phone}\x00{purpose}\x00{code}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def matches(self, expected_hash: str, phone: str, purpose: str, code: str) -> bool:
        """Constant-time comparison with a stored hash."""
        return hmac.compare_digest(expected_hash, self.hash(phone, purpose, code))


def keyed_digest(key: bytes, *parts: str) -> str:
    """A short keyed digest of parts (e.g. of a PIN inside an attempt key): it tells
    equal inputs apart from unequal ones, and nothing more without the key."""
    message = "\x00".join(parts).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:24]


def session_key(settings: Settings, label: str) -> bytes:
    """The key for `label` derived from SESSION_SECRET; raises ValueError when it is missing."""
    return derive_key(_session_secret(settings), label)
