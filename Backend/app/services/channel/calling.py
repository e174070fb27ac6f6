"""The core every area of ChannelServices shares: what it holds (settings, the PIN
hasher and policy, the rails it asks) and the two ways to call a service, on the
service threads with a fresh unit of work or on the PIN pool under the PIN semaphore."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Concatenate, ParamSpec, TypeVar

from app.db.unit_of_work import UnitOfWork
from app.integrations.airtime import AfricasTalkingAirtime, AirtimeRail
from app.integrations.daraja import Daraja, DarajaClient, DarajaConfig
from app.runtime import Runtime
from app.services import pins
from app.services.custody import SecretBox

P = ParamSpec("P")
# How long a USSD hop waits for a biller to name an account's holder: well inside the
# hop's own deadline (Settings.ussd_hop_deadline_s, 1.5 s), which ends the session with
# an apology when passed. Slower, only the account's form is checked.
USSD_LOOKUP_WAIT_S = 0.7
# The lookup's own HTTP timeout: it bounds the thread a late answer keeps busy.
USSD_LOOKUP_TIMEOUT_S = 2.0
T = TypeVar("T")


class ChannelCore:
    def __init__(self, runtime: Runtime) -> None:
        settings = runtime.settings
        self.runtime = runtime
        self.settings = settings
        self.hasher = pins.PinHasher.from_settings(settings)
        self.pin_policy = pins.PinPolicy.from_settings(settings)
        self.box = SecretBox.from_settings(settings)
        self.shortcode = settings.ussd_service_codes[0]
        self._pin_checks = runtime.pin_checks
        self._pin_pool = runtime.pin_pool
        self._threads = runtime.service_threads
        # AT's Airtime API (or its local sandbox): its status, asked when AT calls back.
        self.airtime: AirtimeRail = AfricasTalkingAirtime.from_settings(settings)
        # Daraja (or its local sandbox) where M-Pesa is on: a Paybill account's holder.
        self.daraja: Daraja | None = (
            DarajaClient.from_settings(settings) if settings.mpesa_enabled else None
        )
        # The same, asked inside a USSD hop: a biller slower than this is not waited for
        # (the account's form is checked; the biller is asked again at payment).
        self.bill_lookup: Daraja | None = (
            DarajaClient(
                replace(DarajaConfig.from_settings(settings), timeout_s=USSD_LOOKUP_TIMEOUT_S)
            )
            if settings.mpesa_enabled
            else None
        )

    # ---- the two ways to call a service -----------------------------------------------

    async def run(
        self, service: Callable[Concatenate[UnitOfWork, P], T], /, *args: P.args, **kw: P.kwargs
    ) -> T:
        """service(uow, *args, **kw) on the service threads, with a fresh unit of work."""
        return await self._threads.run(partial(service, self.runtime.uow(), *args, **kw))

    async def read(
        self, service: Callable[Concatenate[UnitOfWork, P], T], /, *args: P.args, **kw: P.kwargs
    ) -> T:
        """run(), for a service that only reads what is shown (a statement, a history):
        on the read replica when there is one (Runtime.read_uow)."""
        return await self._threads.run(partial(service, self.runtime.read_uow(), *args, **kw))

    async def with_pin(self, work: Callable[[], T]) -> T:
        """Blocking work that checks or hashes a PIN: one per core at a time, on the PIN
        pool's low-priority threads, never in the shared thread pool."""
        async with self._pin_checks:
            return await self._pin_pool.run(work)

    async def run_pin(
        self,
        service: Callable[Concatenate[UnitOfWork, pins.PinHasher, pins.PinPolicy, P], T],
        /,
        *args: P.args,
        **kw: P.kwargs,
    ) -> T:
        """service(uow, hasher, policy, *args, **kw): a service that checks a PIN itself,
        on the PIN pool, taking its turn with every other PIN check."""
        return await self.with_pin(
            lambda: service(self.runtime.uow(), self.hasher, self.pin_policy, *args, **kw)
        )

    def _verify(self, user_id: int, pin: str, attempt_key: str) -> None:
        pins.verify_pin(
            self.runtime.uow(),
            self.hasher,
            self.pin_policy,
            user_id=user_id,
            pin=pin,
            attempt_key=attempt_key,
        )

    async def pin_checked(
        self,
        user_id: int,
        pin: str,
        attempt_key: str,
        service: Callable[Concatenate[UnitOfWork, P], T],
        /,
        *args: P.args,
        **kw: P.kwargs,
    ) -> T:
        """Check the user's PIN, then run the service: one thread-pool call, one turn.
        Raises WrongPin, PinLocked, PinResetRequired before the service runs."""

        def work() -> T:
            self._verify(user_id, pin, attempt_key)
            return service(self.runtime.uow(), *args, **kw)

        return await self.with_pin(work)

    async def pin_checked_read(
        self,
        user_id: int,
        pin: str,
        attempt_key: str,
        service: Callable[Concatenate[UnitOfWork, P], T],
        /,
        *args: P.args,
        **kw: P.kwargs,
    ) -> T:
        """pin_checked() for a service that only reads what is shown: the PIN is checked
        (and its attempts written) on the primary, the service reads the replica."""

        def work() -> T:
            self._verify(user_id, pin, attempt_key)
            return service(self.runtime.read_uow(), *args, **kw)

        return await self.with_pin(work)
