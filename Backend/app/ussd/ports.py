"""What the USSD flow needs from the rest of PayTrace, as one async port.

The flow never touches SQL, Redis or HTTP clients: it calls these. The real
adapter (`app.ussd.adapter`) runs the service layer in a worker thread; unit
tests use `FakeUssdServices` (tests/unit/fakes.py).
"""

from __future__ import annotations

from typing import Protocol, TypedDict


class ProfileDict(TypedDict):
    user_id: int
    paytrace_id: str
    phone: str
    full_name: str
    language: str
    role: str
    stellar_address: str
    activation_status: str


class UssdServices(Protocol):
    async def profile(self, phone: str) -> ProfileDict | None:
        """The registered user behind a phone, or None."""

    async def hash_pin(self, pin: str) -> str:
        """A slow salted hash of a PIN, safe to keep in the session."""

    async def pin_matches(self, pin_hash: str, pin: str) -> bool:
        """Whether pin is the one hashed in pin_hash."""

    async def register(
        self, *, phone: str, full_name: str, pin_hash: str, language: str, key: str
    ) -> ProfileDict:
        """Create the user and wallet once per key; raises AlreadyRegistered, ValidationFailed."""

    async def verify_pin(self, *, user_id: int, pin: str, attempt_key: str) -> None:
        """Raises WrongPin (attempts left) or PinLocked (seconds left)."""

    async def set_pin(self, *, user_id: int, pin_hash: str, key: str) -> None:
        """Replace the PIN with an already verified and hashed new one."""

    async def set_language(self, *, user_id: int, phone: str, language: str) -> ProfileDict:
        """Change the user's language; returns the updated profile."""

    def validate_name(self, raw: str) -> str:
        """The cleaned full name; raises ValidationFailed."""
