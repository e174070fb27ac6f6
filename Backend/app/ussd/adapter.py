"""The real UssdServices: the service layer, run in worker threads.

psycopg2 and argon2 block, so each call hops to the thread pool; navigation hops
never get here (they are served from Redis alone).
"""

from __future__ import annotations

from dataclasses import asdict

from starlette.concurrency import run_in_threadpool

from app.runtime import Runtime
from app.services import accounts, pins, registration
from app.services.accounts import Profile
from app.services.custody import SecretBox
from app.ussd.ports import ProfileDict
from app.ussd.session_store import SessionStore


def _as_dict(profile: Profile) -> ProfileDict:
    return ProfileDict(**asdict(profile))  # the session keeps it as JSON


class RuntimeUssdServices:
    def __init__(self, runtime: Runtime, store: SessionStore) -> None:
        settings = runtime.settings
        self._runtime = runtime
        self._store = store
        self._hasher = pins.PinHasher.from_settings(settings)
        self._policy = pins.PinPolicy.from_settings(settings)
        self._box = SecretBox.from_settings(settings)
        self._shortcode = settings.ussd_service_codes[0]

    async def profile(self, phone: str) -> ProfileDict | None:
        found = await run_in_threadpool(accounts.get_profile, self._runtime.uow(), phone)
        return _as_dict(found) if found else None

    async def hash_pin(self, pin: str) -> str:
        return await run_in_threadpool(self._hasher.hash, pin)

    async def pin_matches(self, pin_hash: str, pin: str) -> bool:
        return await run_in_threadpool(self._hasher.verify, pin_hash, pin)

    async def register(
        self, *, phone: str, full_name: str, pin_hash: str, language: str, key: str
    ) -> ProfileDict:
        new_user = registration.NewUser(
            phone=phone,
            full_name=full_name,
            pin_hash=pin_hash,
            language=language,
            registration_key=key,
        )
        done = await run_in_threadpool(
            registration.register_user,
            self._runtime.uow(),
            self._box,
            new_user,
            shortcode=self._shortcode,
        )
        wallet = done.wallet
        profile = _as_dict(
            accounts.profile_of(done.user, wallet.stellar_address, wallet.activation_status)
        )
        await self._store.cache_profile(phone, profile)
        return profile

    async def verify_pin(self, *, user_id: int, pin: str, attempt_key: str) -> None:
        await run_in_threadpool(
            lambda: pins.verify_pin(
                self._runtime.uow(),
                self._hasher,
                self._policy,
                user_id=user_id,
                pin=pin,
                attempt_key=attempt_key,
            )
        )

    async def set_pin(self, *, user_id: int, pin_hash: str, key: str) -> None:
        await run_in_threadpool(
            lambda: pins.set_pin(
                self._runtime.uow(), user_id=user_id, pin_hash=pin_hash, dedupe_key=key
            )
        )

    async def set_language(self, *, user_id: int, phone: str, language: str) -> ProfileDict:
        await run_in_threadpool(
            lambda: accounts.set_language(self._runtime.uow(), user_id=user_id, language=language)
        )
        updated = await self.profile(phone)
        assert updated is not None
        await self._store.cache_profile(phone, updated)
        return updated

    def validate_name(self, raw: str) -> str:
        return registration.validate_full_name(raw)
