"""Send money: wallet to wallet, with the fee to PayTrace, SMS to both sides."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from app.db.repositories.ledger import (
    Overdraft,
    Party,
    PendingMessage,
    TransferOutcome,
)
from app.db.repositories.outbox import OutboxMessage
from app.db.unit_of_work import UnitOfWork
from app.domain.money import format_kes, nairobi_day, new_reference
from app.domain.phone import mask
from app.errors import (
    InsufficientFunds,
    NotFound,
    RecipientNotRegistered,
    ServiceUnavailable,
    refused,
)
from app.services import pins
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
    reference = new_reference()
    with uow:
        # Two round trips, each its own transaction: a read without a lock (who the SMS
        # go to, the fee), then one statement that checks and posts everything under
        # the accounts' locks and commits (migration 0037): a hot account stays locked
        # only inside PostgreSQL, never across a round trip.
        with uow.statements_commit_themselves():
            parties = uow.ledger.transfer_parties(
                sender_user_id=sender_id,
                recipient_phone=request.recipient_phone,
                fee_kind="transfer",
                amount=amount,
            )
            if parties.recipient is None:
                raise RecipientNotRegistered("this number is not registered with PayTrace")
            if parties.sender is None:
                raise NotFound("no wallet for this user")
            sender, receiver, fee = parties.sender, parties.recipient, parties.fee
            try:
                posted = uow.ledger.post_transfer(
                    sender_user_id=sender_id,
                    recipient=receiver,
                    fees_code=fees_shard(sender_id),
                    amount=amount,
                    fee=fee,
                    idempotency_key=key,
                    request_hash=fingerprint,
                    reference=reference,
                    channel=request.channel,
                    note=request.note,
                    created_at=now,
                    today=today,
                    messages=_pending_confirmations(
                        reference, amount, fee or 0, now, sender, receiver
                    ),
                )
            except Overdraft:  # the row lock makes this unreachable; the CHECK is the backstop
                balance = uow.ledger.wallet_balance(sender_id) or 0  # autocommit: no abort
                raise InsufficientFunds(balance=balance, needed=amount + (fee or 0)) from None
            _refuse_unless_posted(uow, posted, sender_id, amount, fee)
        if posted.outcome == "replay":
            earlier = earlier_result(uow, key, fingerprint)
            assert earlier is not None
            return earlier
    assert posted.transaction_id is not None and fee is not None
    assert posted.sender_balance is not None and posted.receiver_balance is not None
    balances = {sender_id: posted.sender_balance, receiver.user_id: posted.receiver_balance}
    return Movement(posted.transaction_id, reference, "transfer", amount, fee, now, balances)


def _refuse_unless_posted(
    uow: UnitOfWork,
    posted: TransferOutcome,
    sender_id: int,
    amount: int,
    fee: int | None,
) -> None:
    """Raise the refusal ledger_transfer answered (it wrote nothing)."""
    match posted.outcome:
        case "posted" | "replay":
            return
        case "self":
            raise refused("send_to_self", "you cannot send money to yourself")
        case "stale":  # the phone changed hands between the two round trips
            raise ServiceUnavailable("the recipient changed; try again")
        case "no_sender_wallet" | "no_recipient_wallet":
            raise NotFound("no wallet for this user")
        case "limits":
            limits = uow.ledger.tier_limits(sender_id)
            assert limits is not None
            assert posted.day_total is not None and posted.rolling_total is not None
            check_limits(limits, amount, posted.day_total, posted.rolling_total)
            raise AssertionError("ledger_transfer and check_limits disagree")
        case "no_fee_band":
            raise refused("invalid_amount", "no fee band covers this amount")
        case "insufficient":
            assert posted.sender_balance is not None and fee is not None
            raise InsufficientFunds(balance=posted.sender_balance, needed=amount + fee)
    raise AssertionError(f"unknown ledger_transfer outcome {posted.outcome}")


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


def _fee(uow: UnitOfWork, amount: int) -> int:
    fee = uow.ledger.fee("transfer", amount)
    if fee is None:
        raise refused("invalid_amount", "no fee band covers this amount")
    return fee


def _pending_confirmations(
    reference: str, amount: int, fee: int, now: datetime, sender: Party, receiver: Party
) -> tuple[PendingMessage, ...]:
    """The SMS to both sides, each in its reader's language, their balances left for
    ledger_transfer to write in."""
    rendered = confirmations(
        reference, amount, fee, now, sender, receiver, BALANCE_SLOT, BALANCE_SLOT
    )
    return tuple(
        pending_balance(message, reader.user_id)
        for message, reader in zip(rendered, (sender, receiver), strict=True)
    )


def confirmations(
    reference: str,
    amount: int,
    fee: int,
    now: datetime,
    sender: Party,
    receiver: Party,
    sender_balance: str,
    receiver_balance: str,
) -> tuple[OutboxMessage, OutboxMessage]:
    """The SMS to both sides of a transfer, each in its reader's language, with each
    one's balance after it (formatted)."""
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
            balance=sender_balance,
            **common,
        ),
        sms_message(
            to=receiver.phone,
            template="transfer_received",
            language=receiver.language or "en",
            dedupe_key=journal_sms_key(reference, receiver.user_id),
            name=sender.full_name,
            phone=mask(sender.phone),
            balance=receiver_balance,
            **common,
        ),
    )
