"""The Pay part of the fake USSD services: merchants by till, their pay orders by code,
and payments to them, in memory, with the real services' checks (till, order code,
amount, the merchant's fee rule) and the same refusals in the same order (limits, PIN
and one result per key as fakes.py has them; an order paid once). tests/integration/
test_merchant_port_contract.py holds it to the facade."""

from __future__ import annotations

from dataclasses import dataclass, replace

from app.domain.merchants import FeeRule
from app.domain.records.pay_requests import PendingPayRequest
from app.errors import (
    IdempotencyConflict,
    InsufficientFunds,
    MerchantNotFound,
    MerchantUnavailable,
    OrderNotFound,
    OrderNotPayable,
    PayRequestNotPending,
    WrongOrderAmount,
    refused,
)
from app.services import orders
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


@dataclass
class FakePayRequest:
    id: int
    payer_user_id: int
    code: str  # its order's
    status: str = "pending"  # or approved, declined, canceled, expired


@dataclass
class FakeOrder:
    code: str
    till: str  # its merchant's
    amount: int
    description: str | None = None
    status: str = "awaiting_payment"  # or paid, expired, canceled (as shown)


class FakeMerchants:
    """Mixed into FakeUssdServices (which supplies users, balances, PINs and limits)."""

    def _merchant_state(self) -> dict:
        if not hasattr(self, "_merchants"):
            self._merchants = {
                "by_till": {},
                "payments": [],
                "results": {},
                "orders": {},
                "requests": [],
            }
        return self._merchants

    @property
    def merchants(self) -> dict[str, FakeMerchant]:
        return self._merchant_state()["by_till"]

    @property
    def orders(self) -> dict[str, FakeOrder]:
        return self._merchant_state()["orders"]

    def add_order(
        self, code: str, till: str, amount: int, description: str | None = None
    ) -> FakeOrder:
        order = FakeOrder(code, till, amount, description)
        self.orders[code] = order
        return order

    @property
    def pay_requests(self) -> list[FakePayRequest]:
        return self._merchant_state()["requests"]

    def add_pay_request(self, payer_user_id: int, code: str) -> int:
        """A merchant's request that this user pay the order with this code; its id."""
        request = FakePayRequest(len(self.pay_requests) + 1, payer_user_id, code)
        self.pay_requests.append(request)
        return request.id

    async def pending_pay_request(self, *, payer_user_id: int) -> PendingPayRequest | None:
        """As pay_requests.pending_for: the newest pending one whose order awaits payment."""
        self.calls.append("pending_pay_request")
        for request in reversed(self.pay_requests):
            order = self.orders[request.code]
            if (
                request.payer_user_id == payer_user_id
                and request.status == "pending"
                and order.status == "awaiting_payment"
            ):
                name = self.merchants[order.till].display_name
                return PendingPayRequest(
                    request.id, order.code, name, order.amount, order.description, None
                )
        return None

    async def decline_pay_request(self, *, payer_user_id: int, request_id: int) -> None:
        self.calls.append("decline_pay_request")
        found = next((r for r in self.pay_requests if r.id == request_id), None)
        if found is None or found.payer_user_id != payer_user_id:
            raise PayRequestNotPending("no such request to pay")
        if found.status != "pending" or self.orders[found.code].status != "awaiting_payment":
            raise PayRequestNotPending("this request to pay is no longer pending")
        found.status = "declined"

    def _payable_order(self, code: str, amount: int | None) -> FakeOrder:
        """As orders.lock_payable, then the amount check: code, order, its state, amount."""
        orders.check_code(code)
        order = self.orders.get(code)
        if order is None:
            raise OrderNotFound("no order has this code")
        if order.status != "awaiting_payment":
            raise OrderNotPayable(order.status)
        if amount is not None and amount != order.amount:
            raise WrongOrderAmount(f"this order is paid with exactly {order.amount} cents")
        return order

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

    def _payment_quote(
        self,
        payer_user_id: int,
        till: str | None,
        amount: int | None,
        order_code: str | None = None,
    ) -> PaymentQuote:
        """As merchant_payments.tills.quote_payment, in its order: till or order code,
        amount, the order, merchant, limits, balance."""
        if order_code is None:
            check_till(till)
        elif till is not None:
            raise refused("invalid_payment", "name a till or an order code, not both")
        else:
            orders.check_code(order_code)
        if order_code is None or amount is not None:
            check_amount(amount, maximum=MAX_TRANSFER)
        order = None
        if order_code is not None:
            order = self._payable_order(order_code, amount)
            till, amount = order.till, order.amount
        assert till is not None and amount is not None
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
            order_code=order.code if order else None,
            description=order.description if order else None,
        )

    async def quote_merchant_payment(
        self,
        *,
        payer_user_id: int,
        till: str | None = None,
        amount: int | None = None,
        order_code: str | None = None,
    ) -> PaymentQuote:
        self.calls.append("quote_merchant_payment")
        return self._payment_quote(payer_user_id, till, amount, order_code)

    async def pay_merchant(
        self, request: MerchantPaymentRequest, *, pin: str, attempt_key: str | None = None
    ) -> MerchantPayment:
        self.calls.append("pay_merchant")
        payer, till, amount = request.payer_user_id, request.till, request.amount
        code = request.order_code
        if code is None:
            check_till(till)
            check_amount(amount, maximum=MAX_TRANSFER)
        elif till is not None:
            raise refused("invalid_payment", "name a till or an order code, not both")
        else:
            orders.check_code(code)
            if amount is not None:
                check_amount(amount, maximum=MAX_TRANSFER)
        key = request.idempotency_key
        self._check_pin(payer, pin, attempt_key or f"pay:{payer}:{key}")
        results = self._merchant_state()["results"]
        asked = (payer, till, amount, code)
        if (payer, key) in results:
            earlier_request, earlier = results[(payer, key)]
            if earlier_request != asked:
                raise IdempotencyConflict("key reused")
            return replace(earlier, replayed=True)
        quote = self._payment_quote(payer, till, amount, code)
        order = self.orders[code] if code is not None else None
        till, amount = quote.till, quote.amount
        merchant = self.merchants[till]
        self.balances[payer] -= amount
        merchant.balance += amount - quote.merchant_fee
        self._sent(payer, amount)
        reference = self._record(payer, "merchant_payment", -amount, None)
        self.merchant_payments.append((payer, till, amount, quote.merchant_fee))
        if order is not None:
            order.status = "paid"
            for request in self.pay_requests:  # as orders.mark_paid settles them
                if request.code == order.code and request.status == "pending":
                    request.status = "approved" if request.payer_user_id == payer else "canceled"
            self.sms.append((self._user(payer).phone, "merchant_order_paid"))
            self.sms.append((till, "merchant_order_payment_received"))
        else:
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
            order_code=order.code if order else None,
            order_description=order.description if order else None,
        )
        results[(payer, key)] = (asked, paid)
        return paid
