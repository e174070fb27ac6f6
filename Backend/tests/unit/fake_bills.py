"""Buy airtime (and bills) in FakeUssdServices: the seeded catalogue, the real domain
rules, a hold that leaves the balance at once. Held to ChannelServices by
tests/integration/test_ussd_port_contract.py."""

from __future__ import annotations

from datetime import date

from app.domain import bills
from app.domain.bills import AccountRefused, Biller
from app.domain.money import format_kes
from app.domain.phone import InvalidPhone, normalise
from app.domain.records.bills import BillPayment
from app.errors import (
    BillerNotFound,
    BillerUnavailable,
    IdempotencyConflict,
    InsufficientFunds,
    refused,
)
from app.services.bills.catalogue import AccountCheck, BillQuote
from app.services.bills.payments import BillHeld, BillRequest
from app.services.ledger import check_key
from tests.support import seeds


class FakeBills:
    """Mixed into FakeUssdServices (which supplies users, balances, PINs and limits)."""

    def _bill_state(self) -> dict:
        if not hasattr(self, "_bills"):
            self._bills = {"by_key": {}, "payments": []}
        return self._bills

    @property
    def bill_payments(self) -> list[BillPayment]:
        return self._bill_state()["payments"]

    def _biller(self, code: str) -> Biller:
        found = next((b for b in seeds.billers() if b.code == code), None)
        if found is None:
            raise BillerNotFound("no such biller")
        return found

    def _account(self, biller: Biller, account: str) -> str:
        try:
            return bills.check_account(biller, account)
        except AccountRefused as exc:
            code = "not_on_network" if exc.reason == "not_on_network" else "invalid_account"
            raise refused(code, exc.reason) from None

    def _bill_amount(self, biller: Biller, amount: int) -> int:
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise refused("invalid_amount", "cents")
        if not bills.amount_fits(biller, amount):
            low, high = format_kes(biller.min_amount), format_kes(biller.max_amount)
            raise refused("invalid_amount", f"KES {low} to {high}")
        return amount

    def _bill_quote(self, user_id: int, biller: Biller, account: str, amount: int) -> BillQuote:
        """As catalogue.quote_bill, in its order: biller, account, amount, limits, fee,
        balance."""
        checked = self._account(biller, account)
        cents = self._bill_amount(biller, amount)
        self._check_limits(user_id, cents)
        fee = seeds.fee(biller.fee_kind, cents)
        if fee is None:
            raise refused("invalid_amount", "no fee band")
        balance = self.balances[user_id]
        if balance < cents + fee:
            raise InsufficientFunds(balance=balance, needed=cents + fee)
        return BillQuote(biller, checked, cents, fee, balance)

    async def airtime_biller(self, *, phone: str) -> AccountCheck:
        self.calls.append("airtime_biller")
        try:
            e164 = normalise(phone)
        except InvalidPhone:
            e164 = ""
        network = bills.network_of(e164) if e164.startswith("+254") else None
        if network is None:
            raise refused("invalid_account", "not a Kenyan mobile number")
        found = next(
            (b for b in seeds.billers() if b.category == "airtime" and b.network == network), None
        )
        if found is None:
            raise BillerNotFound("no airtime for this network")
        return AccountCheck(found, e164, holder_name=None, looked_up=False)

    async def quote_bill(
        self, *, user_id: int, biller_code: str, account: str, amount: int
    ) -> BillQuote:
        self.calls.append("quote_bill")
        return self._bill_quote(user_id, self._biller(biller_code), account, amount)

    async def pay_bill(
        self, request: BillRequest, *, pin: str, attempt_key: str | None = None
    ) -> BillHeld:
        self.calls.append("pay_bill")
        user_id, key = request.user_id, check_key(request.idempotency_key)
        biller = self._biller(request.biller_code)
        account = self._account(biller, request.account)
        amount = self._bill_amount(biller, request.amount)
        if biller.rail != bills.AT_AIRTIME:  # USSD pays airtime only (the facade)
            raise BillerUnavailable(f"{biller.name} cannot be paid yet")
        self._check_pin(user_id, pin, attempt_key or f"bill:{user_id}:{key}")
        asked = (user_id, biller.code, account, amount)
        by_key = self._bill_state()["by_key"]
        if (user_id, key) in by_key:
            earlier_request, earlier = by_key[user_id, key]
            if earlier_request != asked:
                raise IdempotencyConflict("key reused")
            return BillHeld(earlier, self.balances[user_id], replayed=True)
        quote = self._bill_quote(user_id, biller, account, amount)
        self.balances[user_id] -= quote.total
        self._sent(user_id, amount)
        reference = self._record(user_id, "bill_hold", -quote.total, None)
        payment = BillPayment(
            id=len(self.bill_payments) + 1,
            reference=reference,
            user_id=user_id,
            biller_id=biller.id,
            biller_code=biller.code,
            biller_name=biller.name,
            rail=biller.rail,
            account=account,
            amount=amount,
            fee=quote.fee,
            status=bills.HELD,
            channel=request.channel,
            hold_id=len(self.bill_payments) + 1,
            hold_day=date(2026, 3, 14),
            outcome_id=None,
            rail_request_id=None,
            receipt=None,
            failure=None,
            check_after=None,
            created_at=self.clock,
            ended_at=None,
        )
        self.bill_payments.append(payment)
        by_key[user_id, key] = (asked, payment)
        return BillHeld(payment, self.balances[user_id])
