"""The M-Pesa part of the fake USSD services: deposits asked and withdrawals held, in
memory, with the real services' amount checks and the seeded fee bands (limits, PIN
and one result per key as fakes.py has them)."""

from __future__ import annotations

from dataclasses import replace

from app.errors import IdempotencyConflict, InsufficientFunds, MpesaUnavailable
from app.services.mpesa.deposits import check_deposit_amount
from app.services.mpesa.withdrawals import check_withdrawal_amount
from app.ussd.ports import DepositAsked, TransferQuote, WithdrawalAsked
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

    async def request_deposit(self, *, user_id: int, amount: int, key: str) -> DepositAsked:
        self.calls.append("request_deposit")
        if not self.mpesa_on:
            raise MpesaUnavailable("off")
        check_deposit_amount(amount)

        def make() -> DepositAsked:
            self.deposits.append((user_id, amount))
            return DepositAsked(f"DEP{len(self.deposits):07d}", amount, False)

        return self._once(key, ("deposit", user_id, amount), make)

    def _withdrawal_quote(self, user_id: int, amount: int) -> TransferQuote:
        """As withdrawals.quote_withdrawal, in its order: amount, limits, fee, balance."""
        check_withdrawal_amount(amount)  # M-Pesa's own rule: whole shillings, its range
        self._check_limits(user_id, amount)
        fee = seeds.fee("withdrawal", amount)
        assert fee is not None  # the bands cover every amount M-Pesa takes
        balance = self.balances[user_id]
        if balance < amount + fee:
            raise InsufficientFunds(balance=balance, needed=amount + fee)
        return TransferQuote(amount=amount, fee=fee, balance=balance)

    async def quote_withdrawal(self, *, user_id: int, amount: int) -> TransferQuote:
        self.calls.append("quote_withdrawal")
        return self._withdrawal_quote(user_id, amount)

    async def withdraw(self, *, user_id: int, amount: int, pin: str, key: str) -> WithdrawalAsked:
        self.calls.append("withdraw")
        if not self.mpesa_on:
            raise MpesaUnavailable("off")
        self._check_pin(user_id, pin, f"withdraw:{key}")

        def make() -> WithdrawalAsked:
            quote = self._withdrawal_quote(user_id, amount)
            self.balances[user_id] -= quote.total
            self._sent(user_id, amount)
            reference = self._record(user_id, "withdrawal", -quote.total, None)
            self.withdrawals.append((user_id, amount, quote.fee))
            return WithdrawalAsked(reference, amount, quote.fee, self.balances[user_id], False)

        return self._once(key, ("withdraw", user_id, amount), make)
