"""A payment to a merchant's till: one journal transaction, its record and its SMS
(the package's docstring tells the movement)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from app.db.repositories.ledger import LockedAccount, Overdraft
from app.db.repositories.outbox import OutboxMessage
from app.db.unit_of_work import UnitOfWork
from app.domain.money import format_kes, nairobi_day, new_reference
from app.domain.phone import mask
from app.domain.records.merchants import MerchantRow
from app.errors import InsufficientFunds, MerchantNotFound, NotFound, refused
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
from app.services.merchant_payments.tills import (
    PAYER_FEE,
    by_till,
    check_till,
    merchant_fee,
    payable,
)
from app.services.notifications import journal_sms_key, sms_message
from app.services.transfers import MAX_TRANSFER, fees_shard


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
        # Read before the locks, to keep the merchant's row out of the hot path: its till
        # and account never change; an operator's fee edit or suspension committed
        # meanwhile applies from the next payment (this one keeps what it read).
        merchant = by_till(uow, request.till)
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
        merchant = by_till(uow, request.till)
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
