"""Hand-written fakes of the ports the USSD flow uses."""

from __future__ import annotations

import hashlib

from app.errors import AlreadyRegistered, PinLocked, ValidationFailed, WrongPin
from app.ussd.ports import ProfileDict


def fake_hash(pin: str) -> str:
    return "fake$" + hashlib.sha256(f"salt:{pin}".encode()).hexdigest()


class FakeUssdServices:
    """In-memory users, PINs and lockout, counting every side effect."""

    def __init__(self, max_attempts: int = 3) -> None:
        self.users: dict[str, ProfileDict] = {}
        self.pin_hashes: dict[int, str] = {}
        self.failures: dict[int, int] = {}
        self.locked: set[int] = set()
        self.keys: dict[str, int] = {}
        self.attempts: dict[str, bool] = {}
        self.calls: list[str] = []
        self.max_attempts = max_attempts

    def add_user(self, phone: str, name: str, pin: str, language: str = "en") -> ProfileDict:
        user_id = len(self.users) + 1
        profile = ProfileDict(
            user_id=user_id,
            paytrace_id=f"PT{user_id:08d}",
            phone=phone,
            full_name=name,
            language=language,
            role="worker",
            stellar_address="G" + "A" * 55,
            activation_status="pending",
        )
        self.users[phone] = profile
        self.pin_hashes[user_id] = fake_hash(pin)
        return profile

    async def profile(self, phone: str) -> ProfileDict | None:
        self.calls.append("profile")
        return self.users.get(phone)

    async def hash_pin(self, pin: str) -> str:
        return fake_hash(pin)

    async def pin_matches(self, pin_hash: str, pin: str) -> bool:
        return pin_hash == fake_hash(pin)

    async def register(
        self, *, phone: str, full_name: str, pin_hash: str, language: str, key: str
    ) -> ProfileDict:
        self.calls.append("register")
        if key in self.keys:
            return next(u for u in self.users.values() if u["user_id"] == self.keys[key])
        if phone in self.users:
            raise AlreadyRegistered("taken")
        profile = self.add_user(phone, full_name, "0000", language)
        self.pin_hashes[profile["user_id"]] = pin_hash
        self.keys[key] = profile["user_id"]
        return profile

    async def verify_pin(self, *, user_id: int, pin: str, attempt_key: str) -> None:
        self.calls.append("verify_pin")
        if user_id in self.locked:
            raise PinLocked(1800)
        if attempt_key not in self.attempts:
            self.attempts[attempt_key] = self.pin_hashes[user_id] == fake_hash(pin)
            if not self.attempts[attempt_key]:
                self.failures[user_id] = self.failures.get(user_id, 0) + 1
        if not self.attempts[attempt_key]:
            left = self.max_attempts - self.failures[user_id]
            if left <= 0:
                self.locked.add(user_id)
            raise WrongPin(max(left, 0))
        self.failures[user_id] = 0

    async def set_pin(self, *, user_id: int, pin_hash: str, key: str) -> None:
        self.calls.append("set_pin")
        self.pin_hashes[user_id] = pin_hash

    async def set_language(self, *, user_id: int, phone: str, language: str) -> ProfileDict:
        self.calls.append("set_language")
        self.users[phone] = ProfileDict(**{**self.users[phone], "language": language})
        return self.users[phone]

    def validate_name(self, raw: str) -> str:
        name = " ".join(raw.split())
        if not 2 <= len(name) <= 60 or not all(c.isalpha() or c in " '-." for c in name):
            raise ValidationFailed("invalid name")
        if not name.isascii():
            raise ValidationFailed("invalid name")
        return name
