"""A payment to a merchant, at its till or toward one of its pay orders: one journal
transaction, its record and its SMS (the package's docstring tells the movement).

Long (over 300 lines) because the till and the order paths share one transaction, its
lock order (the order's row before any account) and its replay, which are safest read
in one place; the merchant's reads and fee rule are in tills.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from app.db.repositories.ledger import LockedAccount, Overdraft
from app.db.repositories.outbox import OutboxMessage
from app.db.unit_of_work import UnitOfWork
from app.domain.money import format_kes, nairobi_day, new_reference
from app.domain.phone import mask
from app.domain.records.merchants import MerchantRow
from app.domain.records.pay_orders import PayOrderRow
from app.errors import (
    InsufficientFunds,
    MerchantNotFound,
    NotFound,
    OrderNotPayable,
    WrongOrderAmount,
    refused,
)
from app.services import orders, pins
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
from app.services.merchant_payments.tills import (
    PAYER_FEE,
    by_till,
    check_till,
    merchant_fee,
    order_label,
    payable,
)
from app.services.notifications import journal_sms_key, sms_message
from app.services.transfers import MAX_TRANSFER, fees_shard


@dataclass(frozen=True)
class MerchantPaymentRequest:
    payer_user_id: int
    till: str | None  # a till, or None with an order_code
    amount: int | None  # cents; None with an order_code: the order's amount
    idempotency_key: str  # e.g. 'ussd:<hop digest>' or 'api:<Idempotency-Key>'
    channel: str = "ussd"
    # A payment toward a pay order names it here instead of a till: its merchant and
    # amount are the order's, read under the order's lock (an amount, if given, must be
    # exactly the order's).
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
    order_code: str | None = None  # the pay order it paid, if any
    order_description: str | None = None
    order_reference: str | None = None  # the merchant's own reference of the order


def _checked(request: MerchantPaymentRequest) -> tuple[str, str]:
    """The scoped key and the fingerprint; raises ValidationFailed."""
    if request.order_code is None:
        check_till(request.till)
        check_amount(request.amount, maximum=MAX_TRANSFER)
    else:
        if request.till is not None:
            raise refused("invalid_payment", "name a till or an order code, not both")
        orders.check_code(request.order_code)
        if request.amount is not None:
            check_amount(request.amount, maximum=MAX_TRANSFER)
    if request.channel not in CHANNELS:
        raise refused("invalid_channel", "unknown channel")
    key = scoped_key("merchant_payment", request.payer_user_id, request.idempotency_key)
    fingerprint = request_hash(
        kind="merchant_payment", till=request.till, amount=request.amount, order=request.order_code
    )
    return key, fingerprint


def pay(
    uow: UnitOfWork, request: MerchantPaymentRequest, *, now: datetime | None = None
) -> MerchantPayment:
    """Move request.amount from the payer's wallet to the merchant, the merchant's fee
    to PayTrace; commits.

    Idempotent on request.idempotency_key (scoped to the payer): the same request again
    returns the original (replayed=True), even when it paid an order that is now paid;
    another request with that key raises IdempotencyConflict. Raises ValidationFailed
    ('invalid_till', 'invalid_order_code', 'invalid_payment', 'invalid_amount',
    'invalid_channel', 'invalid_idempotency_key'), OrderNotFound, OrderNotPayable
    ('order_paid', 'order_expired', 'order_canceled'), WrongOrderAmount,
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
    payer_id = request.payer_user_id
    now = now or datetime.now(UTC)
    today = nairobi_day(now)
    with uow:
        order: PayOrderRow | None = None
        if request.order_code is not None:
            # Lock order: the order's row FIRST, then the ledger accounts in their lock order
            # (docs/merchants.md). Payers of one order queue on its row while holding
            # no account lock, so they cannot deadlock; the first commits, and each
            # one after finds it paid and moves nothing.
            try:
                order = orders.lock_payable(uow, request.order_code, now=now)
            except OrderNotPayable:
                # This payer's own earlier payment of it (a retry racing the original
                # or coming after): answer it again.
                earlier = earlier_result(uow, key, fingerprint)
                if earlier is not None:
                    return earlier
                raise
            if request.amount is not None and request.amount != order.amount:
                raise WrongOrderAmount(f"this order is paid with exactly {order.amount} cents")
            merchant = uow.merchants.get(order.merchant_id)
            amount = order.amount
        else:
            # Read before the locks, to keep the merchant's row out of the hot path: its
            # till and account never change; an operator's fee edit or suspension
            # committed meanwhile applies from the next payment (this one keeps what it
            # read).
            merchant = by_till(uow, request.till or "")
            assert request.amount is not None  # _checked
            amount = request.amount
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
        payable(merchant)
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
                note=(
                    f"{merchant.display_name} (order {order.code})"
                    if order
                    else f"{merchant.display_name} (till {merchant.till_number})"
                ),
                outflow=(wallet.id, today, amount),
                messages=_confirmations(
                    reference, merchant, wallet, amount, fee, now, balance, merchant_balance, order
                ),
            )
        except Overdraft:  # unreachable under the row locks; the CHECK is the backstop
            raise InsufficientFunds(balance=wallet.balance, needed=amount) from None
        if order is not None:
            orders.mark_paid(uow, order.id, tx_id, amount, now, payer_user_id=payer_id)
        uow.merchants.record_payment(
            transaction_id=tx_id,
            merchant_id=merchant.id,
            payer_user_id=payer_id,
            amount=amount,
            fee=fee,
            channel=request.channel,
            created_at=now,
            order_id=order.id if order else None,
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
        **_order_fields(order),
    )


def _order_fields(order: PayOrderRow | None) -> dict[str, str | None]:
    if order is None:
        return {}
    return {
        "order_code": order.code,
        "order_description": order.description,
        "order_reference": order.merchant_reference,
    }


def _replayed(
    uow: UnitOfWork, request: MerchantPaymentRequest, movement: Movement
) -> MerchantPayment:
    """An earlier payment with this key, answered as it was (its balance from its legs;
    its merchant and order from its `merchant_payments` row)."""
    with uow:
        made = uow.merchants.payment(movement.transaction_id)
        assert made is not None  # written in the payment's own transaction
        merchant = uow.merchants.get(made[0])
        order = uow.pay_orders.get(made[1]) if made[1] is not None else None
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
        **_order_fields(order),
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
    order: PayOrderRow | None = None,
) -> tuple[OutboxMessage, OutboxMessage]:
    """The payer's receipt in their language, and the merchant's notice (for an order:
    naming it, its description and the merchant's reference)."""
    assert payer.user_id is not None and payer.phone is not None
    assert payer.full_name is not None
    common = {
        "reference": reference,
        "amount": format_kes(amount),
        "till": merchant.till_number,
        "when": sms_time(now),
    }
    if order is not None:
        return _order_confirmations(
            reference, merchant, payer, fee, balance, merchant_balance, order, common
        )
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


def _order_confirmations(
    reference: str,
    merchant: MerchantRow,
    payer: LockedAccount,
    fee: int,
    balance: int,
    merchant_balance: int,
    order: PayOrderRow,
    common: dict[str, str],
) -> tuple[OutboxMessage, OutboxMessage]:
    assert payer.user_id is not None and payer.phone is not None
    assert payer.full_name is not None
    named = ", ".join(part for part in (order.description, order.merchant_reference) if part)
    return (
        sms_message(
            to=payer.phone,
            template="merchant_order_paid",
            language=payer.language or "en",
            dedupe_key=journal_sms_key(reference, payer.user_id),
            name=merchant.display_name,
            order=order_label(order),
            balance=format_kes(balance),
            **common,
        ),
        sms_message(
            to=merchant.contact_phone,
            template="merchant_order_payment_received",
            language=merchant.language,
            dedupe_key=f"journal:{reference}:merchant:{merchant.id}",
            code=order.code,
            order=f" ({named})" if named else "",
            payer=payer.full_name,
            phone=mask(payer.phone),
            fee=format_kes(fee),
            balance=format_kes(merchant_balance),
            **common,
        ),
    )
