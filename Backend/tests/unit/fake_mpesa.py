"""The M-Pesa part of the fake USSD services: deposits asked and withdrawals held, in
memory, with the real services' amount checks and the seeded fee bands (limits, PIN
and one result per key as fakes.py has them)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

from app.domain.records.mpesa import Deposit, Withdrawal
from app.errors import IdempotencyConflict, InsufficientFunds, MpesaUnavailable
from app.services.mpesa.deposits import DepositRequest, Requested, check_deposit_amount
from app.services.mpesa.withdrawals import Held, WithdrawalRequest, check_withdrawal_amount
from app.services.transfers import Quote
from tests.support import seeds


class FakeMpesaServices:
    """Mixed into FakeUssdServices (which supplies users, balances, PINs and limits)."""

    mpesa_on = True

    def _mpesa_state(self) -> dict:
        if not hasattr(self, "_mpesa"):
            self._mpesa = {"deposits": [], "withdrawals": [], "results": {}}
        return self._mpesa

    @property
    def deposits(self) -> list[tuple[int, int]]:
        """(user id, cents) of every STK push asked for."""
        return self._mpesa_state()["deposits"]

    @property
    def withdrawals(self) -> list[tuple[int, int, int]]:
        """(user id, cents, fee) of every withdrawal held."""
        return self._mpesa_state()["withdrawals"]

    def _once(self, key: str, request: tuple, make):
        results = self._mpesa_state()["results"]
        if key in results:
            earlier_request, earlier = results[key]
            if earlier_request != request:
                raise IdempotencyConflict("key reused")
            return replace(earlier, replayed=True)
        results[key] = (request, make())
        return results[key][1]

    async def request_deposit(self, request: DepositRequest) -> Requested:
        self.calls.append("request_deposit")
        if not self.mpesa_on:
            raise MpesaUnavailable("off")
        user_id, amount = request.user_id, request.amount
        check_deposit_amount(amount)

        def make() -> Requested:
            self.deposits.append((user_id, amount))
            reference = f"DEP{len(self.deposits):07d}"
            return Requested(_deposit(reference, self._user(user_id).phone, request))

        return self._once(request.idempotency_key, ("deposit", user_id, amount), make)

    def _withdrawal_quote(self, user_id: int, amount: int) -> Quote:
        """As withdrawals.quote_withdrawal, in its order: amount, limits, fee, balance."""
        check_withdrawal_amount(amount)  # M-Pesa's own rule: whole shillings, its range
        self._check_limits(user_id, amount)
        fee = seeds.fee("withdrawal", amount)
        assert fee is not None  # the bands cover every amount M-Pesa takes
        balance = self.balances[user_id]
        if balance < amount + fee:
            raise InsufficientFunds(balance=balance, needed=amount + fee)
        return Quote(amount=amount, fee=fee, balance=balance)

    async def quote_withdrawal(self, *, user_id: int, amount: int) -> Quote:
        self.calls.append("quote_withdrawal")
        return self._withdrawal_quote(user_id, amount)

    async def withdraw(
        self, request: WithdrawalRequest, *, pin: str, attempt_key: str | None = None
    ) -> Held:
        self.calls.append("withdraw")
        if not self.mpesa_on:
            raise MpesaUnavailable("off")
        user_id, amount, key = request.user_id, request.amount, request.idempotency_key
        self._check_pin(user_id, pin, attempt_key or f"withdraw:{key}")

        def make() -> Held:
            quote = self._withdrawal_quote(user_id, amount)
            self.balances[user_id] -= quote.total
            self._sent(user_id, amount)
            reference = self._record(user_id, "withdrawal", -quote.total, None)
            self.withdrawals.append((user_id, amount, quote.fee))
            phone = self._user(user_id).phone
            held = _withdrawal(reference, phone, request, quote.fee)
            return Held(held, self.balances[user_id])

        return self._once(key, ("withdraw", user_id, amount), make)


_NOW = datetime(2026, 3, 14, 6, 30, tzinfo=UTC)


def _deposit(reference: str, phone: str, request: DepositRequest) -> Deposit:
    """A deposit as the service answers it right after asking: the push queued."""
    return Deposit(
        id=int(reference[3:]),
        reference=reference,
        user_id=request.user_id,
        phone=phone,
        amount=request.amount,
        channel=request.channel,
        request_key=request.idempotency_key,
        request_hash="",
        status="requested",
        merchant_request_id=None,
        checkout_request_id=None,
        result_code=None,
        result_desc=None,
        receipt=None,
        transaction_id=None,
        queries=0,
        next_check_at=None,
        created_at=_NOW,
        updated_at=_NOW,
    )


def _withdrawal(reference: str, phone: str, request: WithdrawalRequest, fee: int) -> Withdrawal:
    """A withdrawal as the service answers it right after the hold."""
    return Withdrawal(
        id=0,
        reference=reference,
        user_id=request.user_id,
        phone=phone,
        amount=request.amount,
        fee=fee,
        channel=request.channel,
        originator_conversation_id="",
        conversation_id=None,
        status="held",
        hold_id=0,
        outcome_id=None,
        hold_day=date(2026, 3, 14),
        result_code=None,
        result_desc=None,
        receipt=None,
        check_after=None,
        status_queries=0,
        not_found=0,
        query_conversation_id=None,
        created_at=_NOW,
        updated_at=_NOW,
    )
