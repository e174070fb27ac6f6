"""Who is calling: the profile behind a phone, registration, the PIN and the language,
as both channels ask for them (ChannelServices composes this)."""

from __future__ import annotations

from app.errors import PinLocked
from app.infra.coalesced_reads import CoalescedReads
from app.runtime import Runtime
from app.services import accounts, pins, registration
from app.services.accounts import Profile
from app.services.channel.calling import ChannelCore


class CallerServices(ChannelCore):
    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime)
        # First hops of callers no cache knows, read together when they come at once.
        self._profiles: CoalescedReads[str, Profile] = CoalescedReads(
            runtime.service_threads, self._read_profiles
        )

    # ---- who is calling ------------------------------------------------------------------

    async def profile(self, phone: str) -> Profile | None:
        """The registered user behind a phone, or None."""
        return await self._profiles.get(phone)

    def _read_profiles(self, phones: list[str]) -> dict[str, Profile]:
        return accounts.get_profiles(self.runtime.uow(), phones)

    async def hash_pin(self, pin: str) -> str:
        """A slow salted hash of a PIN, safe to keep in a USSD session."""
        return await self.with_pin(lambda: self.hasher.hash(pin))

    async def pin_matches(self, pin_hash: str, pin: str) -> bool:
        return await self.with_pin(lambda: self.hasher.verify(pin_hash, pin))

    async def register(self, new: registration.NewUser) -> Profile:
        """Create the user and wallet once per registration key; raises
        AlreadyRegistered, ValidationFailed."""
        done = await self.run(registration.register_user, self.box, new, shortcode=self.shortcode)
        wallet = done.wallet
        return accounts.profile_of(done.user, wallet.stellar_address, wallet.activation_status)

    async def verify_pin(self, *, user_id: int, pin: str, attempt_key: str) -> None:
        """Raises WrongPin (attempts left), PinLocked (until) or PinResetRequired."""
        await self.with_pin(lambda: self._verify(user_id, pin, attempt_key))

    async def set_pin(self, *, user_id: int, pin_hash: str, key: str) -> None:
        """Replace the PIN with an already verified and hashed new one."""
        await self.run(pins.set_pin, user_id=user_id, pin_hash=pin_hash, dedupe_key=key)

    async def set_language(self, *, user_id: int, language: str) -> Profile:
        """Change the user's language; returns the updated profile."""
        return await self.run(accounts.update_profile, user_id=user_id, language=language)

    def validate_name(self, raw: str) -> str:
        """The cleaned full name; raises ValidationFailed."""
        return registration.validate_full_name(raw)

    async def wallet_status(self, *, user_id: int) -> str:
        """The wallet's status on Stellar read now from PostgreSQL (the worker activates
        wallets with no Redis at hand, so a cached profile keeps 'pending'):
        pending | active | failed."""
        return (await self.run(accounts.get_profile_by_id, user_id)).activation_status

    async def pin_lock(self, *, user_id: int) -> PinLocked | None:
        """What a PIN check would raise now (PinLocked, PinResetRequired), or None."""
        return await self.run(pins.current_lock, user_id=user_id)
