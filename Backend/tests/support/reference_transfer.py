"""A transfer posted the way PayTrace posted it before ledger_transfer (migration 0037):
statement by statement through the ledger's generic methods (lock in the ledger's lock
order, read the key and the outflows, check in Python, `LedgerRepository.post`), then
COMMIT.

Tests hold the one-statement path to it: the same requests must leave the same
journal, legs, settlements, outflows and SMS, and meet the same refusals.
"""

from __future__ import annotations

from datetime import UTC, datetime

from app.db.repositories.ledger import LockedAccount, Party
from app.db.unit_of_work import UnitOfWork
from app.domain.money import format_kes, nairobi_day, new_reference
from app.errors import InsufficientFunds, NotFound, RecipientNotRegistered, refused
from app.services.ledger import (
    CHANNELS,
    Movement,
    check_amount,
    check_limits,
    earlier_result,
    request_hash,
    run_idempotent,
    scoped_key,
)
from app.services.transfers import (
    MAX_TRANSFER,
    NOTE_MAX,
    TransferRequest,
    confirmations,
    fees_shard,
)


def transfer_by_statements(
    uow: UnitOfWork, request: TransferRequest, *, now: datetime | None = None
) -> Movement:
    """What services.transfers.transfer did before migration 0037; raises the same."""
    amount = check_amount(request.amount, maximum=MAX_TRANSFER)
    key = scoped_key("transfer", request.sender_user_id, request.idempotency_key)
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
    return run_idempotent(uow, key, fingerprint, lambda: _once(uow, request, key, fingerprint, now))


def _once(
    uow: UnitOfWork, request: TransferRequest, key: str, fingerprint: str, now: datetime | None
) -> Movement:
    sender_id, amount = request.sender_user_id, request.amount
    now = now or datetime.now(UTC)
    today = nairobi_day(now)
    with uow:
        recipient = uow.users.get_by_phone(request.recipient_phone)
        if recipient is None:
            raise RecipientNotRegistered("this number is not registered with PayTrace")
        locked = uow.ledger.accounts(
            user_ids=[sender_id, recipient.id], codes=[fees_shard(sender_id)]
        )
        fee = uow.ledger.fee("transfer", amount)
        sender = _wallet(locked, sender_id)
        earlier_id, day_total, rolling_total = uow.ledger.key_and_outflows(key, sender.id, today)
        if earlier_id is not None:
            earlier = earlier_result(uow, key, fingerprint)
            assert earlier is not None
            return earlier
        if recipient.id == sender_id:
            raise refused("send_to_self", "you cannot send money to yourself")
        receiver = _wallet(locked, recipient.id)
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
            recipient.id: receiver.balance + amount,
        }
        messages = confirmations(
            reference,
            amount,
            fee,
            now,
            _party(sender),
            _party(receiver),
            format_kes(balances[sender_id]),
            format_kes(balances[recipient.id]),
        )
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
            messages=messages,
        )
        uow.commit()
    return Movement(tx_id, reference, "transfer", amount, fee, now, balances)


def _wallet(locked: list[LockedAccount], user_id: int) -> LockedAccount:
    found = next((a for a in locked if a.user_id == user_id), None)
    if found is None:
        raise NotFound("no wallet for this user")
    return found


def _party(account: LockedAccount) -> Party:
    assert account.user_id is not None and account.full_name is not None
    assert account.phone is not None and account.language is not None
    return Party(account.user_id, account.full_name, account.phone, account.language)
