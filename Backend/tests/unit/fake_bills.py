"""Bills and airtime in FakeUssdServices: the seeded catalogue, the real domain rules,
a hold that leaves the balance at once. Held to ChannelServices by
tests/integration/test_ussd_port_contract.py.

`open_rails` stands for Settings.bill_rails: both rails, as everywhere M-Pesa is on
(the local Daraja sandbox stands in outside production); a test closes the Paybill rail
by setting it. `bill_holders` stands for the billers' records, asked through Daraja:
None, the biller cannot be asked (only the account's form is checked, as the contract's
real side, whose sandbox is not served); else (paybill, account) -> the holder's name,
an account missing from it being one its biller does not know.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date

from app.domain import bills
from app.domain.bills import AccountRefused, Biller
from app.domain.money import format_kes, nairobi_day
from app.domain.phone import InvalidPhone, normalise
from app.domain.promotions import CashbackRule, earned, rule_for
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
from app.services.bills.tokens import RECENT_TOKENS
from app.services.ledger import check_key
from tests.support import seeds


class FakeBills:
    """Mixed into FakeUssdServices (which supplies users, balances, PINs and limits)."""

    open_rails: tuple[str, ...] = bills.BUILT_RAILS
    bill_holders: Mapping[tuple[str, str], str] | None = None
    # Cashback as the promotions services read it: the rules (none unless a test adds
    # some, as a fresh database) and what the promotions account holds.
    cashback_rules: tuple[CashbackRule, ...] = ()
    promotions: int = 0

    def _bill_state(self) -> dict:
        if not hasattr(self, "_bills"):
            self._bills = {"by_key": {}, "payments": [], "resent": {}}
        return self._bills

    def deliver_bill(self, reference: str, token: str | None = None, units: str = "1.00") -> None:
        """The rail delivered the bill (as endings.deliver): its token kept."""
        payments = self.bill_payments
        at = next(i for i, p in enumerate(payments) if p.reference == reference)
        ended = replace(payments[at], status=bills.DELIVERED, token=token, units=units)
        payments[at] = ended

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
        return BillQuote(
            biller, checked, cents, fee, balance, cashback=self._cashback(biller, cents)
        )

    def _cashback(self, biller: Biller, amount: int) -> int:
        """As cashback.quoted_cashback, by the same rules (nothing earned yet here)."""
        day = nairobi_day(self.clock)
        rule = rule_for(self.cashback_rules, biller_id=biller.id, category=biller.category, day=day)
        value = earned(rule, amount, 0) if rule is not None else 0
        return value if value <= self.promotions else 0

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

    async def payable_billers(self) -> list[Biller]:
        self.calls.append("payable_billers")
        return [b for b in seeds.billers() if b.rail in self.open_rails]

    async def validate_bill_account(self, *, biller_code: str, account: str) -> AccountCheck:
        self.calls.append("validate_bill_account")
        biller = self._biller(biller_code)
        checked = self._account(biller, account)
        # Daraja is asked only where M-Pesa is on, for a Paybill biller.
        closed = biller.rail != bills.DARAJA_B2B or bills.DARAJA_B2B not in self.open_rails
        if closed or self.bill_holders is None:
            return AccountCheck(biller, checked, holder_name=None, looked_up=False)
        holder = self.bill_holders.get((biller.paybill or "", checked))
        if holder is None:
            raise refused("invalid_account", "the biller does not know this account")
        return AccountCheck(biller, checked, holder_name=holder, looked_up=True)

    async def resend_tokens(self, *, user_id: int, key: str) -> int:
        self.calls.append("resend_tokens")
        resent = self._bill_state()["resent"]
        if (user_id, key) in resent:
            return resent[user_id, key]
        mine = [p for p in reversed(self.bill_payments) if p.user_id == user_id]
        found = [p for p in mine if p.status == bills.DELIVERED and p.token][:RECENT_TOKENS]
        self.sms += [(self._user(user_id).phone, "bill_token") for _ in found]
        resent[user_id, key] = len(found)
        return len(found)

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
        if biller.rail not in self.open_rails:
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
