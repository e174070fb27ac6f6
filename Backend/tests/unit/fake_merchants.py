"""The Pay part of the fake USSD services: merchants by till and payments to them, in
memory, with the real services' checks (till, amount, the merchant's fee rule) and the
same refusals in the same order (limits, PIN and one result per key as fakes.py has
them). tests/integration/test_merchant_port_contract.py holds it to the facade."""

from __future__ import annotations

from dataclasses import dataclass, replace

from app.domain.merchants import FeeRule
from app.errors import (
    IdempotencyConflict,
    InsufficientFunds,
    MerchantNotFound,
    MerchantUnavailable,
)
from app.services.ledger import check_amount
from app.services.merchant_payments.payments import MerchantPayment, MerchantPaymentRequest
from app.services.merchant_payments.tills import (
    PAYER_FEE,
    Payee,
    PaymentQuote,
    check_till,
    merchant_fee,
)
from app.services.transfers import MAX_TRANSFER


@dataclass
class FakeMerchant:
    display_name: str
    till: str
    fee: FeeRule
    status: str = "active"
    balance: int = 0  # cents, after fees


class FakeMerchants:
    """Mixed into FakeUssdServices (which supplies users, balances, PINs and limits)."""

    def _merchant_state(self) -> dict:
        if not hasattr(self, "_merchants"):
            self._merchants = {"by_till": {}, "payments": [], "results": {}}
        return self._merchants

    @property
    def merchants(self) -> dict[str, FakeMerchant]:
        return self._merchant_state()["by_till"]

    @property
    def merchant_payments(self) -> list[tuple[int, str, int, int]]:
        """(payer user id, till, amount, merchant fee) of every payment made."""
        return self._merchant_state()["payments"]

    def add_merchant(
        self, till: str, display_name: str, fee: FeeRule | None = None, status: str = "active"
    ) -> FakeMerchant:
        merchant = FakeMerchant(display_name, till, fee or FeeRule(0, 0, 0), status)
        self.merchants[till] = merchant
        return merchant

    def _payable(self, till: str) -> FakeMerchant:
        merchant = self.merchants.get(till)
        if merchant is None:
            raise MerchantNotFound("no merchant has this till number")
        if merchant.status != "active":
            raise MerchantUnavailable("this merchant is not taking payments now")
        return merchant

    async def find_merchant(self, *, till: str) -> Payee:
        self.calls.append("find_merchant")
        check_till(till)
        merchant = self._payable(till)
        return Payee(merchant.display_name, merchant.till)

    def _payment_quote(self, payer_user_id: int, till: str, amount: int) -> PaymentQuote:
        """As merchant_payments.tills.quote_payment, in its order: till, amount, merchant,
        limits, balance."""
        check_till(till)
        check_amount(amount, maximum=MAX_TRANSFER)
        merchant = self._payable(till)
        self._check_limits(payer_user_id, amount)
        balance = self.balances[payer_user_id]
        if balance < amount + PAYER_FEE:
            raise InsufficientFunds(balance=balance, needed=amount + PAYER_FEE)
        return PaymentQuote(
            merchant.display_name,
            merchant.till,
            amount,
            PAYER_FEE,
            merchant_fee(merchant.fee, amount),
            balance,
        )

    async def quote_merchant_payment(
        self, *, payer_user_id: int, till: str, amount: int
    ) -> PaymentQuote:
        self.calls.append("quote_merchant_payment")
        return self._payment_quote(payer_user_id, till, amount)

    async def pay_merchant(
        self, request: MerchantPaymentRequest, *, pin: str, attempt_key: str | None = None
    ) -> MerchantPayment:
        self.calls.append("pay_merchant")
        payer, till, amount = request.payer_user_id, request.till, request.amount
        check_till(till)
        check_amount(amount, maximum=MAX_TRANSFER)
        key = request.idempotency_key
        self._check_pin(payer, pin, attempt_key or f"pay:{payer}:{key}")
        results = self._merchant_state()["results"]
        asked = (payer, till, amount)
        if (payer, key) in results:
            earlier_request, earlier = results[(payer, key)]
            if earlier_request != asked:
                raise IdempotencyConflict("key reused")
            return replace(earlier, replayed=True)
        quote = self._payment_quote(payer, till, amount)
        merchant = self.merchants[till]
        self.balances[payer] -= amount
        merchant.balance += amount - quote.merchant_fee
        self._sent(payer, amount)
        reference = self._record(payer, "merchant_payment", -amount, None)
        self.merchant_payments.append((payer, till, amount, quote.merchant_fee))
        self.sms.append((self._user(payer).phone, "merchant_paid"))
        self.sms.append((till, "merchant_payment_received"))
        paid = MerchantPayment(
            transaction_id=len(self.merchant_payments),
            reference=reference,
            display_name=merchant.display_name,
            till=till,
            amount=amount,
            payer_fee=PAYER_FEE,
            merchant_fee=quote.merchant_fee,
            balance=self.balances[payer],
            created_at=self.clock,
        )
        results[(payer, key)] = (asked, paid)
        return paid
