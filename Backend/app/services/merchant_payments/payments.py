"""A payment to a merchant, at its till or toward one of its pay orders: one journal
transaction, its record and its SMS (the package's docstring tells the movement).

Long (over 300 lines) because the till's one-statement path and the order's
statement-by-statement one (the order's row before any account) make the same movement,
answer the same refusals and replay alike, which is safest read in one place; the
merchant's reads and fee rule are in tills.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from app.db.repositories.ledger import Overdraft, Party, PendingMessage
from app.db.repositories.merchant_payments import MERCHANT_BALANCE, MerchantPayOutcome
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
    BALANCE_SLOT,
    CHANNELS,
    Movement,
    check_amount,
    check_limits,
    earlier_result,
    pending_balance,
    request_hash,
    run_idempotent,
    scoped_key,
    sms_time,
)
from app.services.merchant_accounts import MERCHANT_SHARDS
from app.services.merchant_payments.tills import (
    PAYER_FEE,
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
    now = now or datetime.now(UTC)
    if request.order_code is None:
        return _pay_till(uow, request, key, fingerprint, now)
    with uow:
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
        if merchant is None:
            raise MerchantNotFound("no merchant has this till number")
        return pay_by_statements(uow, request, key, fingerprint, now, merchant, order.amount, order)


def _pay_till(
    uow: UnitOfWork,
    request: MerchantPaymentRequest,
    key: str,
    fingerprint: str,
    now: datetime,
) -> MerchantPayment | Movement:
    """A payment at a till: two round trips, each its own transaction. A read without a
    lock (the merchant at the till, its status and fee rule, and the payer, for the
    SMS), then one statement that checks and posts everything under the accounts'
    locks and commits (migrations 0061, 0062): the merchant's account the payer pays (its
    shard for the payer's wallet), a hot account, stays locked only inside PostgreSQL,
    never across a round trip. An operator's fee edit
    or suspension committed after the read applies from the next payment."""
    payer_id, amount = request.payer_user_id, request.amount
    assert amount is not None  # _checked
    reference = new_reference()
    today = nairobi_day(now)
    with uow:
        with uow.statements_commit_themselves():
            merchant, payer = uow.merchant_payments.parties(request.till or "", payer_id)
            if merchant is None:
                raise MerchantNotFound("no merchant has this till number")
            if payer is None:
                raise NotFound("no wallet for this user")
            if merchant.status != "active":
                # A suspended merchant's till refuses new payments, never the answer to
                # one this payer made before (a retry).
                earlier = earlier_result(uow, key, fingerprint)
                if earlier is not None:
                    return earlier
                payable(merchant)
            fee = merchant_fee(merchant.fee, amount)
            try:
                posted = uow.merchant_payments.pay(
                    payer_user_id=payer_id,
                    merchant=merchant,
                    fees_code=fees_shard(payer_id),
                    amount=amount,
                    fee=fee,
                    idempotency_key=key,
                    request_hash=fingerprint,
                    reference=reference,
                    channel=request.channel,
                    note=_note(merchant, None),
                    created_at=now,
                    today=today,
                    messages=_pending_confirmations(reference, merchant, payer, amount, fee, now),
                )
            except Overdraft:  # the row lock makes this unreachable; the CHECK is the backstop
                balance = uow.ledger.wallet_balance(payer_id) or 0  # autocommit: no abort
                raise InsufficientFunds(balance=balance, needed=amount) from None
            _refuse_unless_posted(uow, posted, payer_id, amount)
        if posted.outcome == "replay":
            earlier = earlier_result(uow, key, fingerprint)
            assert earlier is not None
            return earlier
    assert posted.transaction_id is not None and posted.balance is not None
    return MerchantPayment(
        transaction_id=posted.transaction_id,
        reference=reference,
        display_name=merchant.display_name,
        till=merchant.till_number,
        amount=amount,
        payer_fee=PAYER_FEE,
        merchant_fee=fee,
        balance=posted.balance,
        created_at=now,
    )


def _refuse_unless_posted(
    uow: UnitOfWork, posted: MerchantPayOutcome, payer_id: int, amount: int
) -> None:
    """Raise the refusal ledger_merchant_pay answered (it wrote nothing)."""
    match posted.outcome:
        case "posted" | "replay":
            return
        case "no_wallet":
            raise NotFound("no wallet for this user")
        case "limits":
            limits = uow.ledger.tier_limits(payer_id)
            assert limits is not None
            assert posted.day_total is not None and posted.rolling_total is not None
            check_limits(limits, amount, posted.day_total, posted.rolling_total)
            raise AssertionError("ledger_merchant_pay and check_limits disagree")
        case "insufficient":
            assert posted.balance is not None
            raise InsufficientFunds(balance=posted.balance, needed=amount)
    raise AssertionError(f"unknown ledger_merchant_pay outcome {posted.outcome}")


def pay_by_statements(
    uow: UnitOfWork,
    request: MerchantPaymentRequest,
    key: str,
    fingerprint: str,
    now: datetime,
    merchant: MerchantRow,
    amount: int,
    order: PayOrderRow | None,
) -> MerchantPayment | Movement:
    """The payment statement by statement, in the caller's `with uow:` (a pay order's,
    whose row the caller locked first): lock the payer's wallet, the merchant's account
    it pays (its shard) and a fees shard in the lock order, read the key and the
    outflows, check, post, record the payment (and mark the order paid), commit. A
    payment at a till was made this way before migration 0061; tests hold
    ledger_merchant_pay to it."""
    payer_id = request.payer_user_id
    today = nairobi_day(now)
    found = uow.ledger.accounts(user_ids=[payer_id], for_update=False)
    if not found:
        raise NotFound("no wallet for this user")
    # The merchant's account this payer pays: the shard of its wallet's id mod 8
    # (migration 0062), as ledger_merchant_pay picks it.
    shards = uow.merchants.account_ids(merchant.id)
    shard_id = shards[found[0].id % MERCHANT_SHARDS]
    locked = uow.ledger.accounts(
        user_ids=[payer_id], account_ids=[shard_id], codes=[fees_shard(payer_id)]
    )
    wallet = next(a for a in locked if a.user_id == payer_id)
    till_account = next(a for a in locked if a.id == shard_id)
    fees = next(a for a in locked if a.kind == "fees")
    # The merchant's other shards as committed, for the balance in its notice.
    beside = uow.ledger.accounts(account_ids=[s for s in shards if s != shard_id], for_update=False)
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
    merchant_balance = till_account.balance + amount - fee + sum(a.balance for a in beside)
    assert wallet.user_id is not None and wallet.phone is not None
    assert wallet.full_name is not None
    payer = Party(wallet.user_id, wallet.full_name, wallet.phone, wallet.language or "en")
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
            note=_note(merchant, order),
            outflow=(wallet.id, today, amount),
            messages=_confirmations(
                reference,
                merchant,
                payer,
                amount,
                fee,
                now,
                format_kes(balance),
                format_kes(merchant_balance),
                order,
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


def _note(merchant: MerchantRow, order: PayOrderRow | None) -> str:
    """The journal's note of a payment to the merchant."""
    if order is not None:
        return f"{merchant.display_name} (order {order.code})"
    return f"{merchant.display_name} (till {merchant.till_number})"


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


def _pending_confirmations(
    reference: str, merchant: MerchantRow, payer: Party, amount: int, fee: int, now: datetime
) -> tuple[PendingMessage, ...]:
    """Both SMS of a till payment, each reader's balance left for ledger_merchant_pay to
    write in: the payer's wallet's, and (MERCHANT_BALANCE) the merchant's."""
    rendered = _confirmations(
        reference, merchant, payer, amount, fee, now, BALANCE_SLOT, BALANCE_SLOT
    )
    return tuple(
        pending_balance(message, reader)
        for message, reader in zip(rendered, (payer.user_id, MERCHANT_BALANCE), strict=True)
    )


def _confirmations(
    reference: str,
    merchant: MerchantRow,
    payer: Party,
    amount: int,
    fee: int,
    now: datetime,
    balance: str,
    merchant_balance: str,
    order: PayOrderRow | None = None,
) -> tuple[OutboxMessage, OutboxMessage]:
    """The payer's receipt in their language, and the merchant's notice (for an order:
    naming it, its description and the merchant's reference), each with its reader's
    balance after the payment (formatted, or BALANCE_SLOT)."""
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
            balance=balance,
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
            balance=merchant_balance,
            **common,
        ),
    )


def _order_confirmations(
    reference: str,
    merchant: MerchantRow,
    payer: Party,
    fee: int,
    balance: str,
    merchant_balance: str,
    order: PayOrderRow,
    common: dict[str, str],
) -> tuple[OutboxMessage, OutboxMessage]:
    named = ", ".join(part for part in (order.description, order.merchant_reference) if part)
    return (
        sms_message(
            to=payer.phone,
            template="merchant_order_paid",
            language=payer.language or "en",
            dedupe_key=journal_sms_key(reference, payer.user_id),
            name=merchant.display_name,
            order=order_label(order),
            balance=balance,
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
            balance=merchant_balance,
            **common,
        ),
    )
