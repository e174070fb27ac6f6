"""The real UssdServices: the service layer, run in worker threads.

psycopg2 and argon2 block, so each call hops to the thread pool; navigation hops
never get here (they are served from Redis alone). A money hop is one thread-pool
call: the PIN check and what it guards run together in the worker thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

from app.errors import MpesaUnavailable, PinLocked
from app.runtime import Runtime
from app.services import accounts, invitations, pins, registration, statements, transfers
from app.services.accounts import Profile
from app.services.custody import SecretBox
from app.services.mpesa import deposits, withdrawals
from app.ussd.harambee.adapter import HarambeeAdapter
from app.ussd.ports import (
    DepositAsked,
    Payee,
    ProfileDict,
    SentMoney,
    StatementEntry,
    TransferQuote,
    WithdrawalAsked,
)
from app.ussd.session_store import SessionStore

T = TypeVar("T")


def _as_dict(profile: Profile) -> ProfileDict:
    return ProfileDict(**asdict(profile))  # the session keeps it as JSON


class RuntimeUssdServices(HarambeeAdapter):
    def __init__(self, runtime: Runtime, store: SessionStore) -> None:
        settings = runtime.settings
        self._runtime = runtime
        self._store = store
        self._hasher = pins.PinHasher.from_settings(settings)
        self._policy = pins.PinPolicy.from_settings(settings)
        self._box = SecretBox.from_settings(settings)
        self._shortcode = settings.ussd_service_codes[0]
        # Shared with the REST API: PIN checks of both channels take turns.
        self._pin_checks = runtime.pin_checks

    async def _with_pin(self, work: Callable[[], T]) -> T:
        """Run work that checks or hashes a PIN, a few at a time per process."""
        async with self._pin_checks:
            return await run_in_threadpool(work)

    async def profile(self, phone: str) -> ProfileDict | None:
        found = await run_in_threadpool(accounts.get_profile, self._runtime.uow(), phone)
        return _as_dict(found) if found else None

    async def hash_pin(self, pin: str) -> str:
        return await self._with_pin(lambda: self._hasher.hash(pin))

    async def pin_matches(self, pin_hash: str, pin: str) -> bool:
        return await self._with_pin(lambda: self._hasher.verify(pin_hash, pin))

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
        await self._with_pin(lambda: self._verify(user_id, pin, attempt_key))

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

    async def wallet_status(self, *, user_id: int) -> str:
        # The worker activates wallets with no Redis at hand: the cached profile keeps
        # 'pending' until it expires, so this screen asks PostgreSQL.
        found = await run_in_threadpool(accounts.get_profile_by_id, self._runtime.uow(), user_id)
        return found.activation_status

    async def pin_lock(self, *, user_id: int) -> PinLocked | None:
        return await run_in_threadpool(
            lambda: pins.current_lock(self._runtime.uow(), user_id=user_id)
        )

    async def find_recipient(self, *, sender_user_id: int, phone: str) -> Payee:
        found = await run_in_threadpool(
            lambda: transfers.find_recipient(
                self._runtime.uow(), sender_user_id=sender_user_id, phone=phone
            )
        )
        return Payee(user_id=found.user_id, full_name=found.full_name, phone=found.phone)

    async def invite(self, *, sender_user_id: int, phone: str) -> bool:
        return await run_in_threadpool(
            lambda: invitations.invite(
                self._runtime.uow(),
                sender_user_id=sender_user_id,
                phone=phone,
                shortcode=self._shortcode,
                daily_limit=self._runtime.settings.invites_per_sender_per_day,
            )
        )

    async def quote_transfer(self, *, sender_user_id: int, amount: int) -> TransferQuote:
        quote = await run_in_threadpool(
            lambda: transfers.quote_transfer(
                self._runtime.uow(), sender_user_id=sender_user_id, amount=amount
            )
        )
        return TransferQuote(amount=quote.amount, fee=quote.fee, balance=quote.balance)

    async def send_money(
        self, *, sender_user_id: int, recipient_phone: str, amount: int, pin: str, key: str
    ) -> SentMoney:
        request = transfers.TransferRequest(
            sender_user_id=sender_user_id,
            recipient_phone=recipient_phone,
            amount=amount,
            idempotency_key=key,
            channel="ussd",
        )
        movement = await self._with_pin(
            lambda: transfers.send_money(
                self._runtime.uow(), self._hasher, self._policy, request, pin=pin
            )
        )
        return SentMoney(
            reference=movement.reference,
            amount=movement.amount,
            fee=movement.fee,
            balance=movement.balances[sender_user_id],
            replayed=movement.replayed,
        )

    def _mpesa_on(self) -> None:
        if not self._runtime.settings.mpesa_enabled:
            raise MpesaUnavailable("M-Pesa is not available here")

    async def request_deposit(self, *, user_id: int, amount: int, key: str) -> DepositAsked:
        self._mpesa_on()
        request = deposits.DepositRequest(
            user_id=user_id, amount=amount, idempotency_key=key, channel="ussd"
        )
        asked = await run_in_threadpool(
            lambda: deposits.request_deposit(
                self._runtime.uow(),
                request,
                query_after_s=self._runtime.settings.mpesa_stk_query_after_s,
            )
        )
        deposit = asked.deposit
        return DepositAsked(deposit.reference, deposit.amount, asked.replayed)

    async def quote_withdrawal(self, *, user_id: int, amount: int) -> TransferQuote:
        quote = await run_in_threadpool(
            lambda: withdrawals.quote_withdrawal(
                self._runtime.uow(), user_id=user_id, amount=amount
            )
        )
        return TransferQuote(amount=quote.amount, fee=quote.fee, balance=quote.balance)

    async def withdraw(self, *, user_id: int, amount: int, pin: str, key: str) -> WithdrawalAsked:
        self._mpesa_on()
        request = withdrawals.WithdrawalRequest(
            user_id=user_id, amount=amount, idempotency_key=key, channel="ussd"
        )
        held = await self._with_pin(
            lambda: withdrawals.withdraw(
                self._runtime.uow(),
                self._hasher,
                self._policy,
                request,
                pin=pin,
                result_wait_s=self._runtime.settings.mpesa_result_wait_s,
            )
        )
        w = held.withdrawal
        return WithdrawalAsked(w.reference, w.amount, w.fee, held.balance, held.replayed)

    def _verify(self, user_id: int, pin: str, attempt_key: str) -> None:
        pins.verify_pin(
            self._runtime.uow(),
            self._hasher,
            self._policy,
            user_id=user_id,
            pin=pin,
            attempt_key=attempt_key,
        )

    async def balance(self, *, user_id: int, pin: str, attempt_key: str) -> int:
        def run() -> int:
            self._verify(user_id, pin, attempt_key)
            return statements.balance(self._runtime.uow(), user_id=user_id)

        return await self._with_pin(run)

    async def mini_statement(
        self, *, user_id: int, pin: str, attempt_key: str
    ) -> list[StatementEntry]:
        def run() -> list[StatementEntry]:
            self._verify(user_id, pin, attempt_key)
            lines = statements.mini_statement(self._runtime.uow(), user_id=user_id)
            return [
                StatementEntry(
                    created_at=line.created_at,
                    kind=line.kind,
                    amount=line.amount,
                    reference=line.reference,
                    counterparty_name=line.counterparty_name,
                )
                for line in lines
            ]

        return await self._with_pin(run)
