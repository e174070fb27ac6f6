"""The merchant at a till, its fee on a payment, and the quote a payer sees before the
PIN (at a till, or for a pay order by its code): reads only, no money moves
(payments.py moves it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from app.db.unit_of_work import UnitOfWork
from app.domain import merchants as rules
from app.domain.merchants import FeeRule
from app.domain.money import nairobi_day
from app.domain.records.merchants import MerchantRow
from app.domain.records.pay_orders import PayOrderRow
from app.errors import (
    InsufficientFunds,
    MerchantNotFound,
    MerchantUnavailable,
    NotFound,
    WrongOrderAmount,
    refused,
)
from app.services import orders
from app.services.ledger import check_amount, check_limits
from app.services.transfers import MAX_TRANSFER

PAYER_FEE = 0  # the merchant pays the fee


@dataclass(frozen=True)
class Payee:
    """A merchant as a payer sees it before paying."""

    display_name: str
    till: str


@dataclass(frozen=True)
class PaymentQuote:
    display_name: str
    till: str
    amount: int  # cents
    payer_fee: int  # cents: always 0, the merchant pays
    merchant_fee: int  # cents, by the merchant's rule
    balance: int  # the payer's balance now, cents
    order_code: str | None = None  # a quote for a pay order: its code and description
    description: str | None = None

    @property
    def total(self) -> int:
        """What leaves the payer's wallet."""
        return self.amount + self.payer_fee


def merchant_fee(rule: FeeRule, amount: int) -> int:
    """The merchant's fee on a payment: its rule (basis points rounded half up to a cent,
    held to its minimum and cap: `FeeRule.fee_for`), and never more than the payment
    itself, so that a payment always leaves the merchant something or nothing, never a
    debt."""
    return min(amount, rule.fee_for(amount))


def order_label(order: PayOrderRow) -> str:
    """What a payer is told they pay for: the order's description, else "order <code>"
    (GSM-7 both, fit for a USSD screen; the merchant's reference, any printable ASCII, is
    for the merchant's own notice)."""
    return order.description or f"order {order.code}"


def check_till(till: object) -> str:
    """Raises ValidationFailed ('invalid_till')."""
    if not isinstance(till, str) or not rules.is_till(till):
        raise refused("invalid_till", "a till number is 5 to 7 digits, not starting with 0")
    return till


def payable(merchant: MerchantRow | None) -> MerchantRow:
    """The merchant, if it takes payments; raises MerchantNotFound, MerchantUnavailable."""
    if merchant is None:
        raise MerchantNotFound("no merchant has this till number")
    if merchant.status != "active":
        raise MerchantUnavailable("this merchant is not taking payments now")
    return merchant


def by_till(uow: UnitOfWork, till: str) -> MerchantRow | None:
    """The merchant at this till, whatever its status, or None (in the caller's `with`)."""
    found = uow.merchants.by_till(till)
    return found[0] if found else None


def find_merchant(uow: UnitOfWork, *, till: str) -> Payee:
    """The merchant a payer would pay at this till. Raises ValidationFailed
    ('invalid_till'), MerchantNotFound, MerchantUnavailable (suspended)."""
    check_till(till)
    with uow:
        merchant = payable(by_till(uow, till))
    return Payee(merchant.display_name, merchant.till_number)


def quote_payment(
    uow: UnitOfWork,
    *,
    payer_user_id: int,
    till: str | None = None,
    amount: int | None = None,
    order_code: str | None = None,
    now: datetime | None = None,
) -> PaymentQuote:
    """What paying `amount` cents at `till`, or paying the order `order_code` (its
    amount; `amount`, if given, must be exactly it), would do now, without moving money.

    Raises, in this order, ValidationFailed ('invalid_till', 'invalid_order_code',
    'invalid_payment': both a till and an order code, 'invalid_amount'), OrderNotFound,
    OrderNotPayable, WrongOrderAmount, MerchantNotFound, MerchantUnavailable, NotFound (no
    wallet), LimitExceeded, InsufficientFunds. The payment checks all of it again under
    lock.
    """
    if order_code is None:
        check_till(till)
    elif till is not None:
        raise refused("invalid_payment", "name a till or an order code, not both")
    else:
        orders.check_code(order_code)
    if order_code is None or amount is not None:
        check_amount(amount, maximum=MAX_TRANSFER)
    now = now or datetime.now(UTC)
    today = nairobi_day(now)
    order: PayOrderRow | None = None
    with uow:
        if order_code is not None:
            order = orders.find_payable(uow, order_code, now=now)
            if amount is not None and amount != order.amount:
                raise WrongOrderAmount(f"this order is paid with exactly {order.amount} cents")
            amount = order.amount
            merchant = payable(uow.merchants.get(order.merchant_id))
        else:
            merchant = payable(by_till(uow, till or ""))
        assert amount is not None
        found = uow.ledger.accounts(user_ids=[payer_user_id], for_update=False)
        if not found:
            raise NotFound("no wallet for this user")
        wallet = found[0]
        assert wallet.limits is not None
        check_limits(wallet.limits, amount, *uow.ledger.outflows(wallet.id, today))
    if wallet.balance < amount + PAYER_FEE:
        raise InsufficientFunds(balance=wallet.balance, needed=amount + PAYER_FEE)
    return PaymentQuote(
        display_name=merchant.display_name,
        till=merchant.till_number,
        amount=amount,
        payer_fee=PAYER_FEE,
        merchant_fee=merchant_fee(merchant.fee, amount),
        balance=wallet.balance,
        order_code=order.code if order else None,
        description=order.description if order else None,
    )
