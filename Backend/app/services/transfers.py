"""Send money: wallet to wallet, with the fee to PayTrace, SMS to both sides."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from app.db.repositories.ledger import LockedAccount, Overdraft
from app.db.repositories.outbox import OutboxMessage
from app.db.unit_of_work import UnitOfWork
from app.domain.money import format_kes, nairobi_day, new_reference
from app.domain.phone import mask
from app.errors import InsufficientFunds, NotFound, RecipientNotRegistered, refused
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

# Above every tier's per-transaction limit: the tier refuses first, with its reason.
MAX_TRANSFER = 1_000_000_000
NOTE_MAX = 100
# The fees account's shards (migration 0003): a sender always credits the same one.
FEE_SHARDS = 16


def fees_shard(sender_user_id: int) -> str:
    return f"fees:{sender_user_id % FEE_SHARDS}"


def hold_shard(owner_id: int, kind: str = "mpesa_hold") -> str:
    """The hold account a user's withdrawals (or a merchant's payouts; with kind
    'bill_hold', a user's bill payments) wait in, by the owner's id (as the fees, 16
    shards)."""
    return f"{kind}:{owner_id % FEE_SHARDS}"


@dataclass(frozen=True)
class Recipient:
    user_id: int
    full_name: str
    phone: str  # E.164


@dataclass(frozen=True)
class Quote:
    amount: int
    fee: int
    balance: int  # the sender's balance now

    @property
    def total(self) -> int:
        return self.amount + self.fee


@dataclass(frozen=True)
class TransferRequest:
    sender_user_id: int
    recipient_phone: str  # E.164
    amount: int  # cents
    idempotency_key: str  # e.g. 'ussd:<hop digest>' or the API's Idempotency-Key
    channel: str = "ussd"
    note: str | None = None


def find_recipient(uow: UnitOfWork, *, sender_user_id: int, phone: str) -> Recipient:
    """The registered user behind phone; raises RecipientNotRegistered, or
    ValidationFailed (code 'send_to_self')."""
    with uow:
        user = uow.users.get_by_phone(phone)
    if user is None:
        raise RecipientNotRegistered("this number is not registered with PayTrace")
    if user.id == sender_user_id:
        raise refused("send_to_self", "you cannot send money to yourself")
    return Recipient(user_id=user.id, full_name=user.full_name, phone=user.phone)


def quote_transfer(
    uow: UnitOfWork, *, sender_user_id: int, amount: int, now: datetime | None = None
) -> Quote:
    """The fee for a transfer the sender could make now, without moving money.

    Raises ValidationFailed ('invalid_amount'), LimitExceeded, InsufficientFunds or
    NotFound. The transfer itself checks all of it again under lock.
    """
    check_amount(amount, maximum=MAX_TRANSFER)
    today = nairobi_day(now or datetime.now(UTC))
    with uow:
        found = uow.ledger.accounts(user_ids=[sender_user_id], for_update=False)
        if not found:
            raise NotFound("no wallet for this user")
        account = found[0]
        assert account.limits is not None
        check_limits(account.limits, amount, *uow.ledger.outflows(account.id, today))
        fee = _fee(uow, amount)
    if account.balance < amount + fee:
        raise InsufficientFunds(balance=account.balance, needed=amount + fee)
    return Quote(amount=amount, fee=fee, balance=account.balance)


def transfer_key(sender_user_id: int, idempotency_key: str) -> str:
    """The ledger's idempotency key of a transfer the sender asked for under
    idempotency_key."""
    return scoped_key("transfer", sender_user_id, idempotency_key)


def transfer(uow: UnitOfWork, request: TransferRequest, *, now: datetime | None = None) -> Movement:
    """Move amount (+ fee) from the sender's wallet to the recipient's; commits.

    Idempotent on request.idempotency_key: the same request again returns the
    original Movement (replayed=True); another request with that key raises
    IdempotencyConflict. Raises RecipientNotRegistered, ValidationFailed (codes
    'send_to_self', 'invalid_amount', 'invalid_note', 'invalid_channel',
    'invalid_idempotency_key'), LimitExceeded, InsufficientFunds, NotFound.
    """
    amount = check_amount(request.amount, maximum=MAX_TRANSFER)
    key = transfer_key(request.sender_user_id, request.idempotency_key)
    if request.channel not in CHANNELS:
        raise refused("invalid_channel", "unknown channel")
    if request.note is not None and len(request.note) > NOTE_MAX:
        raise refused("invalid_note", f"a note is at most {NOTE_MAX} characters")
    fingerprint = request_hash(
        kind="transfer",
        sender=request.sender_user_id,
        to=request.recipient_phone,
        amount=amount,
        note=request.note,
    )
    return run_idempotent(
        uow, key, fingerprint, lambda: _transfer_once(uow, request, key, fingerprint, now)
    )


def _transfer_once(
    uow: UnitOfWork, request: TransferRequest, key: str, fingerprint: str, now: datetime | None
) -> Movement:
    sender_id, amount = request.sender_user_id, request.amount
    now = now or datetime.now(UTC)
    today = nairobi_day(now)
    with uow:
        # Round trips are lock time on a hot account: one to lock (with the
        # recipient and the fee), one for what must be read after the locks, one
        # to write everything, then COMMIT.
        locked, recipient_id, fee = uow.ledger.lock_for_transfer(
            sender_user_id=sender_id,
            recipient_phone=request.recipient_phone,
            fees_code=fees_shard(sender_id),
            fee_kind="transfer",
            amount=amount,
        )
        if recipient_id is None:
            raise RecipientNotRegistered("this number is not registered with PayTrace")
        sender = _wallet(locked, sender_id)
        earlier_id, day_total, rolling_total = uow.ledger.key_and_outflows(key, sender.id, today)
        if earlier_id is not None:
            earlier = earlier_result(uow, key, fingerprint)
            assert earlier is not None
            return earlier
        if recipient_id == sender_id:
            raise refused("send_to_self", "you cannot send money to yourself")
        receiver = _wallet(locked, recipient_id)
        fees = next(a for a in locked if a.kind == "fees")
        assert sender.limits is not None
        check_limits(sender.limits, amount, day_total, rolling_total)
        if fee is None:
            raise refused("invalid_amount", "no fee band covers this amount")
        if sender.balance < amount + fee:
            raise InsufficientFunds(balance=sender.balance, needed=amount + fee)
        legs = [(sender.id, -(amount + fee)), (receiver.id, amount)]
        if fee:
            legs.append((fees.id, fee))
        reference = new_reference()
        balances = {
            sender_id: sender.balance - amount - fee,
            recipient_id: receiver.balance + amount,
        }
        try:
            tx_id = uow.ledger.post(
                reference=reference,
                kind="transfer",
                amount=amount,
                fee=fee,
                idempotency_key=key,
                request_hash=fingerprint,
                legs=legs,
                channel=request.channel,
                created_at=now,
                initiator_user_id=sender_id,
                note=request.note,
                outflow=(sender.id, today, amount),
                messages=_confirmations(reference, amount, fee, now, sender, receiver, balances),
            )
        except Overdraft:  # the row lock makes this unreachable; the CHECK is the backstop
            raise InsufficientFunds(balance=sender.balance, needed=amount + fee) from None
        uow.commit()
    return Movement(tx_id, reference, "transfer", amount, fee, now, balances)


def send_money(
    uow: UnitOfWork,
    hasher: pins.PinHasher,
    policy: pins.PinPolicy,
    request: TransferRequest,
    *,
    pin: str,
    attempt_key: str | None = None,
    now: datetime | None = None,
) -> Movement:
    """Check the sender's PIN, then transfer; two transactions.

    The PIN attempt is keyed by attempt_key (by default the idempotency key), so a
    retried request counts once and replays. Raises what pins.verify_pin raises
    (WrongPin, PinLocked), then what transfer raises.
    """
    pins.verify_pin(
        uow,
        hasher,
        policy,
        user_id=request.sender_user_id,
        pin=pin,
        attempt_key=attempt_key or f"send:{request.sender_user_id}:{request.idempotency_key}",
    )
    return transfer(uow, request, now=now)


def _wallet(locked: list[LockedAccount], user_id: int) -> LockedAccount:
    found = next((a for a in locked if a.user_id == user_id), None)
    if found is None:
        raise NotFound("no wallet for this user")
    return found


def _fee(uow: UnitOfWork, amount: int) -> int:
    fee = uow.ledger.fee("transfer", amount)
    if fee is None:
        raise refused("invalid_amount", "no fee band covers this amount")
    return fee


def _confirmations(
    reference: str,
    amount: int,
    fee: int,
    now: datetime,
    sender: LockedAccount,
    receiver: LockedAccount,
    balances: dict[int, int],
) -> tuple[OutboxMessage, OutboxMessage]:
    """The SMS to both sides, each in its reader's language."""
    assert sender.user_id is not None and receiver.user_id is not None
    assert sender.phone is not None and receiver.phone is not None
    common = {"reference": reference, "amount": format_kes(amount), "when": sms_time(now)}
    return (
        sms_message(
            to=sender.phone,
            template="transfer_sent",
            language=sender.language or "en",
            dedupe_key=journal_sms_key(reference, sender.user_id),
            name=receiver.full_name,
            phone=mask(receiver.phone),
            fee=format_kes(fee),
            balance=format_kes(balances[sender.user_id]),
            **common,
        ),
        sms_message(
            to=receiver.phone,
            template="transfer_received",
            language=receiver.language or "en",
            dedupe_key=journal_sms_key(reference, receiver.user_id),
            name=sender.full_name,
            phone=mask(sender.phone),
            balance=format_kes(balances[receiver.user_id]),
            **common,
        ),
    )
