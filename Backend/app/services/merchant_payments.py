"""Paying a merchant's till: a wallet to the merchant's account, the merchant's fee to
PayTrace, SMS to the payer and to the merchant.

The payer pays no fee: the merchant's fee (its own rule, `FeeRule`) is taken from the
merchant's account into a fees shard in the same journal transaction, so the legs are
payer -amount, merchant +amount, merchant -fee, fees +fee. The fee is never more than
the payment, so a payment can never take a merchant account below zero.

A payment is a ledger movement like Send money: one transaction locks the payer's
wallet, the merchant's account and a fees shard in id order, reads the key and the
outflows after the locks, checks the tier limits and the balance, posts, records the
payment (`merchant_payments`), commits. The merchant's account is a hot row (every
payer pays into it), so nothing else happens while its lock is held.

A payment names its merchant by till today. A pay order will name it by its order
code: `MerchantPaymentRequest.order_code` is the seam (refused until orders exist),
and `_pay_once` is the movement both will share.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from app.db.repositories.ledger import LockedAccount, Overdraft
from app.db.repositories.outbox import OutboxMessage
from app.db.unit_of_work import UnitOfWork
from app.domain import merchants as rules
from app.domain.merchants import FeeRule
from app.domain.money import format_kes, nairobi_day, new_reference
from app.domain.phone import mask
from app.domain.records.merchants import MerchantRow
from app.errors import (
    InsufficientFunds,
    MerchantNotFound,
    MerchantUnavailable,
    NotFound,
    refused,
)
from app.services import pins
from app.services.ledger import (
    CHANNELS,
    Movement,
    check_amount,
    check_limits,
    earlier_result,
    request_hash,
    run_idempotent,
    scoped_key,
    sms_time,
)
from app.services.notifications import journal_sms_key, sms_message
from app.services.transfers import MAX_TRANSFER, fees_shard

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

    @property
    def total(self) -> int:
        """What leaves the payer's wallet."""
        return self.amount + self.payer_fee


@dataclass(frozen=True)
class MerchantPaymentRequest:
    payer_user_id: int
    till: str
    amount: int  # cents
    idempotency_key: str  # e.g. 'ussd:<hop digest>' or 'api:<Idempotency-Key>'
    channel: str = "ussd"
    # The seam for pay orders: a payment toward an order will name it here (and the
    # order's merchant and amount checked under the lock). Refused until orders exist.
    order_code: str | None = None


@dataclass(frozen=True)
class MerchantPayment:
    transaction_id: int
    reference: str
    display_name: str
    till: str
    amount: int
    payer_fee: int
    merchant_fee: int
    balance: int  # the payer's balance right after, cents
    created_at: datetime
    replayed: bool = False  # True: an earlier call with this key made it


def merchant_fee(rule: FeeRule, amount: int) -> int:
    """The merchant's fee on a payment: its rule (basis points rounded half up to a cent,
    held to its minimum and cap: `FeeRule.fee_for`), and never more than the payment
    itself, so that a payment always leaves the merchant something or nothing, never a
    debt."""
    return min(amount, rule.fee_for(amount))


def check_till(till: object) -> str:
    """Raises ValidationFailed ('invalid_till')."""
    if not isinstance(till, str) or not rules.is_till(till):
        raise refused("invalid_till", "a till number is 5 to 7 digits, not starting with 0")
    return till


def _payable(merchant: MerchantRow | None) -> MerchantRow:
    if merchant is None:
        raise MerchantNotFound("no merchant has this till number")
    if merchant.status != "active":
        raise MerchantUnavailable("this merchant is not taking payments now")
    return merchant


def _by_till(uow: UnitOfWork, till: str) -> MerchantRow | None:
    found = uow.merchants.by_till(till)
    return found[0] if found else None


def find_merchant(uow: UnitOfWork, *, till: str) -> Payee:
    """The merchant a payer would pay at this till. Raises ValidationFailed
    ('invalid_till'), MerchantNotFound, MerchantUnavailable (suspended)."""
    check_till(till)
    with uow:
        merchant = _payable(_by_till(uow, till))
    return Payee(merchant.display_name, merchant.till_number)


def quote_payment(
    uow: UnitOfWork,
    *,
    payer_user_id: int,
    till: str,
    amount: int,
    now: datetime | None = None,
) -> PaymentQuote:
    """What paying `amount` cents at `till` would do now, without moving money.

    Raises, in this order, ValidationFailed ('invalid_till', 'invalid_amount'),
    MerchantNotFound, MerchantUnavailable, NotFound (no wallet), LimitExceeded,
    InsufficientFunds. The payment checks all of it again under lock.
    """
    check_till(till)
    check_amount(amount, maximum=MAX_TRANSFER)
    today = nairobi_day(now or datetime.now(UTC))
    with uow:
        merchant = _payable(_by_till(uow, till))
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
    )


def _checked(request: MerchantPaymentRequest) -> tuple[str, str]:
    """The scoped key and the fingerprint; raises ValidationFailed."""
    check_till(request.till)
    check_amount(request.amount, maximum=MAX_TRANSFER)
    if request.channel not in CHANNELS:
        raise refused("invalid_channel", "unknown channel")
    if request.order_code is not None:
        raise refused("orders_not_available", "paying a pay order is not available yet")
    key = scoped_key("merchant_payment", request.payer_user_id, request.idempotency_key)
    fingerprint = request_hash(
        kind="merchant_payment", till=request.till, amount=request.amount, order=None
    )
    return key, fingerprint


def pay(
    uow: UnitOfWork, request: MerchantPaymentRequest, *, now: datetime | None = None
) -> MerchantPayment:
    """Move request.amount from the payer's wallet to the merchant, the merchant's fee
    to PayTrace; commits.

    Idempotent on request.idempotency_key (scoped to the payer): the same request again
    returns the original (replayed=True); another request with that key raises
    IdempotencyConflict. Raises ValidationFailed ('invalid_till', 'invalid_amount',
    'invalid_channel', 'invalid_idempotency_key', 'orders_not_available'),
    MerchantNotFound, MerchantUnavailable, LimitExceeded, InsufficientFunds, NotFound.
    """
    key, fingerprint = _checked(request)
    done = run_idempotent(
        uow, key, fingerprint, lambda: _pay_once(uow, request, key, fingerprint, now)
    )
    return done if isinstance(done, MerchantPayment) else _replayed(uow, request, done)


def pay_merchant(
    uow: UnitOfWork,
    hasher: pins.PinHasher,
    policy: pins.PinPolicy,
    request: MerchantPaymentRequest,
    *,
    pin: str,
    attempt_key: str | None = None,
    now: datetime | None = None,
) -> MerchantPayment:
    """Check the input, then the payer's PIN (the lock Send money shares), then pay.
    Raises ValidationFailed first, then what pins.verify_pin raises (WrongPin,
    PinLocked), then what `pay` raises."""
    _checked(request)
    pins.verify_pin(
        uow,
        hasher,
        policy,
        user_id=request.payer_user_id,
        pin=pin,
        attempt_key=attempt_key or f"pay:{request.payer_user_id}:{request.idempotency_key}",
    )
    return pay(uow, request, now=now)


def _pay_once(
    uow: UnitOfWork,
    request: MerchantPaymentRequest,
    key: str,
    fingerprint: str,
    now: datetime | None,
) -> MerchantPayment | Movement:
    payer_id, amount = request.payer_user_id, request.amount
    now = now or datetime.now(UTC)
    today = nairobi_day(now)
    with uow:
        # Read before the locks: a merchant's till, fee rule and account never change
        # while money moves (a suspension committed meanwhile is seen by the next one).
        merchant = _by_till(uow, request.till)
        if merchant is None:
            raise MerchantNotFound("no merchant has this till number")
        locked = uow.ledger.accounts(
            user_ids=[payer_id], account_ids=[merchant.account_id], codes=[fees_shard(payer_id)]
        )
        wallet = next((a for a in locked if a.user_id == payer_id), None)
        if wallet is None:
            raise NotFound("no wallet for this user")
        till_account = next(a for a in locked if a.id == merchant.account_id)
        fees = next(a for a in locked if a.kind == "fees")
        earlier_id, day_total, rolling_total = uow.ledger.key_and_outflows(key, wallet.id, today)
        if earlier_id is not None:
            earlier = earlier_result(uow, key, fingerprint)
            assert earlier is not None
            return earlier
        _payable(merchant)
        assert wallet.limits is not None
        check_limits(wallet.limits, amount, day_total, rolling_total)
        if wallet.balance < amount:
            raise InsufficientFunds(balance=wallet.balance, needed=amount)
        fee = merchant_fee(merchant.fee, amount)
        legs = [(wallet.id, -amount), (till_account.id, amount)]
        if fee:
            legs += [(till_account.id, -fee), (fees.id, fee)]
        reference = new_reference()
        balance = wallet.balance - amount
        merchant_balance = till_account.balance + amount - fee
        try:
            tx_id = uow.ledger.post(
                reference=reference,
                kind="merchant_payment",
                amount=amount,
                fee=fee,  # the merchant's: the journal records the fee the movement took
                idempotency_key=key,
                request_hash=fingerprint,
                legs=legs,
                channel=request.channel,
                created_at=now,
                initiator_user_id=payer_id,
                note=f"{merchant.display_name} (till {merchant.till_number})",
                outflow=(wallet.id, today, amount),
                messages=_confirmations(
                    reference, merchant, wallet, amount, fee, now, balance, merchant_balance
                ),
            )
        except Overdraft:  # unreachable under the row locks; the CHECK is the backstop
            raise InsufficientFunds(balance=wallet.balance, needed=amount) from None
        uow.merchants.record_payment(
            transaction_id=tx_id,
            merchant_id=merchant.id,
            payer_user_id=payer_id,
            amount=amount,
            fee=fee,
            channel=request.channel,
            created_at=now,
        )
        uow.commit()
    return MerchantPayment(
        transaction_id=tx_id,
        reference=reference,
        display_name=merchant.display_name,
        till=merchant.till_number,
        amount=amount,
        payer_fee=PAYER_FEE,
        merchant_fee=fee,
        balance=balance,
        created_at=now,
    )


def _replayed(
    uow: UnitOfWork, request: MerchantPaymentRequest, movement: Movement
) -> MerchantPayment:
    """An earlier payment with this key, answered as it was (its balance from its legs;
    the till is the request's: the same key with another till is a conflict)."""
    with uow:
        merchant = _by_till(uow, request.till)
    assert merchant is not None  # merchants are never deleted
    return MerchantPayment(
        transaction_id=movement.transaction_id,
        reference=movement.reference,
        display_name=merchant.display_name,
        till=merchant.till_number,
        amount=movement.amount,
        payer_fee=PAYER_FEE,
        merchant_fee=movement.fee,
        balance=movement.balances[request.payer_user_id],
        created_at=movement.created_at,
        replayed=movement.replayed,
    )


def _confirmations(
    reference: str,
    merchant: MerchantRow,
    payer: LockedAccount,
    amount: int,
    fee: int,
    now: datetime,
    balance: int,
    merchant_balance: int,
) -> tuple[OutboxMessage, OutboxMessage]:
    """The payer's receipt in their language, and the merchant's notice."""
    assert payer.user_id is not None and payer.phone is not None
    assert payer.full_name is not None
    common = {
        "reference": reference,
        "amount": format_kes(amount),
        "till": merchant.till_number,
        "when": sms_time(now),
    }
    return (
        sms_message(
            to=payer.phone,
            template="merchant_paid",
            language=payer.language or "en",
            dedupe_key=journal_sms_key(reference, payer.user_id),
            name=merchant.display_name,
            balance=format_kes(balance),
            **common,
        ),
        sms_message(
            to=merchant.contact_phone,
            template="merchant_payment_received",
            language=merchant.language,
            dedupe_key=f"journal:{reference}:merchant:{merchant.id}",
            payer=payer.full_name,
            phone=mask(payer.phone),
            fee=format_kes(fee),
            balance=format_kes(merchant_balance),
            **common,
        ),
    )
