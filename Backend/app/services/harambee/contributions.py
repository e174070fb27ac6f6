"""Contributing: money from a wallet into a campaign's escrow, paying now or toward
a pledge, with the receipt SMS and the organiser's milestone SMS.

A contribution is a ledger movement like Send money: one transaction locks the
wallet and the escrow in id order, reads the key, the outflows, the campaign and
the pledge after the locks, checks the rules and the tier limits, posts, records
the contribution, commits. The escrow is a hot account (everyone pays into it), so
nothing else happens while its lock is held.

Long (over 300 lines) because a contribution's one transaction, its replay and its
two SMS (receipt and milestone) are kept beside each other.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime

from app.db.repositories.campaigns import CampaignHead
from app.db.repositories.contributions import ContributionRow, ContributionState, PledgeState
from app.db.repositories.ledger import LockedAccount, Overdraft
from app.db.repositories.outbox import OutboxMessage
from app.db.unit_of_work import UnitOfWork
from app.domain import harambee as rules
from app.domain.money import format_kes, nairobi_day, new_reference
from app.errors import InsufficientFunds, NotFound, refused
from app.services import pins
from app.services.harambee.common import (
    CampaignNotOpen,
    PledgeNotOpen,
    campaign_not_found,
    check_message,
)
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
from app.services.transfers import MAX_TRANSFER


@dataclass(frozen=True)
class ContributionRequest:
    user_id: int
    campaign_id: int
    # Cents; None only toward a pledge: whatever remains of it, read under the lock.
    amount: int | None
    idempotency_key: str  # e.g. 'ussd:<hop digest>' or 'api:<Idempotency-Key>'
    channel: str = "ussd"
    pledge_id: int | None = None
    is_anonymous: bool = False
    message: str | None = None


@dataclass(frozen=True, slots=True)
class Contribution(ContributionRow):
    """The contribution's row as its payer is answered: with the balances right after."""

    balance: int  # the contributor's wallet right after, cents
    raised: int  # the escrow's balance right after, cents
    replayed: bool  # True: an earlier call with this key made it


def contribute(
    uow: UnitOfWork, request: ContributionRequest, *, now: datetime | None = None
) -> Contribution:
    """Move request.amount from the user's wallet into the campaign's escrow; commits.

    Idempotent on request.idempotency_key (scoped to the user): the same request
    again returns the original (replayed=True); another request with that key
    raises IdempotencyConflict. Raises NotFound (campaign, pledge, wallet),
    CampaignNotOpen, PledgeNotOpen, LimitExceeded, InsufficientFunds and
    ValidationFailed ('invalid_amount', 'exceeds_pledge', 'invalid_message',
    'invalid_channel', 'invalid_idempotency_key').
    """
    request, key, fingerprint = _checked(request)
    # A fresh contribution comes back whole; a replay as the earlier Movement, whose
    # contribution is then read (its balances from its legs).
    done = run_idempotent(
        uow, key, fingerprint, lambda: _contribute_once(uow, request, key, fingerprint, now)
    )
    return done if isinstance(done, Contribution) else _receipt(uow, done)


def contribute_with_pin(
    uow: UnitOfWork,
    hasher: pins.PinHasher,
    policy: pins.PinPolicy,
    request: ContributionRequest,
    *,
    pin: str,
    attempt_key: str | None = None,
    now: datetime | None = None,
) -> Contribution:
    """Check the input, then the user's PIN (the lock Send money shares), then
    contribute. Raises what pins.verify_pin raises (WrongPin, PinLocked), then what
    contribute raises."""
    _checked(request)
    pins.verify_pin(
        uow,
        hasher,
        policy,
        user_id=request.user_id,
        pin=pin,
        attempt_key=attempt_key or f"contribute:{request.user_id}:{request.idempotency_key}",
    )
    return contribute(uow, request, now=now)


def _checked(request: ContributionRequest) -> tuple[ContributionRequest, str, str]:
    if request.amount is not None or request.pledge_id is None:
        check_amount(request.amount, maximum=MAX_TRANSFER)
    if request.channel not in CHANNELS:
        raise refused("invalid_channel", "unknown channel")
    if not isinstance(request.is_anonymous, bool):
        raise refused("invalid_anonymous", "is_anonymous is true or false")
    message = check_message(request.message)
    key = scoped_key("contribution", request.user_id, request.idempotency_key)
    fingerprint = request_hash(
        kind="contribution",
        campaign=request.campaign_id,
        pledge=request.pledge_id,
        amount=request.amount,
        anonymous=request.is_anonymous,
        message=message,
    )
    return _with_message(request, message), key, fingerprint


def _with_message(request: ContributionRequest, message: str | None) -> ContributionRequest:
    return ContributionRequest(
        request.user_id,
        request.campaign_id,
        request.amount,
        request.idempotency_key,
        request.channel,
        request.pledge_id,
        request.is_anonymous,
        message,
    )


def _contribute_once(
    uow: UnitOfWork,
    request: ContributionRequest,
    key: str,
    fingerprint: str,
    now: datetime | None,
) -> Contribution | Movement:
    now = now or datetime.now(UTC)
    today = nairobi_day(now)
    with uow:
        # Read before the locks: nothing in the head changes while money moves.
        head = uow.campaigns.head(request.campaign_id)
        if head is None:
            raise campaign_not_found()
        locked = uow.ledger.accounts(user_ids=[request.user_id], account_ids=[head.account_id])
        wallet = next((a for a in locked if a.user_id == request.user_id), None)
        escrow = next(a for a in locked if a.id == head.account_id)
        if wallet is None:
            raise NotFound("no wallet for this user")
        state = uow.contributions.state_after_lock(
            key=key,
            campaign_id=head.id,
            wallet_account_id=wallet.id,
            today=today,
            pledge_id=request.pledge_id,
        )
        assert state is not None  # campaigns are never deleted
        if state.earlier_id is not None:
            earlier = earlier_result(uow, key, fingerprint)
            assert earlier is not None
            return earlier
        if not rules.takes_money(state.status, state.end_date, today):
            raise CampaignNotOpen(_why_not_open(state.status))
        amount = request.amount
        if request.pledge_id is not None:
            amount = _pledge_payment(state.pledge, request)
        assert amount is not None and wallet.limits is not None
        check_limits(wallet.limits, amount, state.day_total, state.rolling_total)
        if wallet.balance < amount:
            raise InsufficientFunds(balance=wallet.balance, needed=amount)
        reference = new_reference()
        balance, raised = wallet.balance - amount, escrow.balance + amount
        messages = [_receipt_sms(head, wallet, reference, amount, now, balance, raised, state)]
        milestone = rules.milestone_reached(escrow.balance, raised, state.target_amount)
        if milestone is not None:
            messages.append(_milestone_sms(head, milestone, raised, state.target_amount))
        try:
            tx_id = uow.ledger.post(
                reference=reference,
                kind="contribution",
                amount=amount,
                fee=0,
                idempotency_key=key,
                request_hash=fingerprint,
                legs=[(wallet.id, -amount), (escrow.id, amount)],
                channel=request.channel,
                created_at=now,
                initiator_user_id=request.user_id,
                note=head.title,
                outflow=(wallet.id, today, amount),
                messages=tuple(messages),
            )
        except Overdraft:  # unreachable under the row lock; the CHECK is the backstop
            raise InsufficientFunds(balance=wallet.balance, needed=amount) from None
        contribution_id = uow.contributions.record(
            transaction_id=tx_id,
            campaign_id=head.id,
            user_id=request.user_id,
            pledge_id=request.pledge_id,
            is_anonymous=request.is_anonymous,
            message=request.message,
        )
        uow.commit()
    assert wallet.full_name is not None
    return Contribution(
        id=contribution_id,
        transaction_id=tx_id,
        reference=reference,
        campaign_id=head.id,
        user_id=request.user_id,
        contributor_name=wallet.full_name,
        amount=amount,
        pledge_id=request.pledge_id,
        is_anonymous=request.is_anonymous,
        message=request.message,
        created_at=now,
        balance=balance,
        raised=raised,
        replayed=False,
    )


def _why_not_open(status: str) -> str:
    if status == "active":
        return "the campaign has passed its end date"
    return f"the campaign is {status}"


def _pledge_payment(pledge: PledgeState | None, request: ContributionRequest) -> int:
    """The amount to pay toward the pledge, checked against what remains of it."""
    if pledge is None or pledge.user_id != request.user_id:
        raise NotFound("no such pledge")
    if pledge.status in ("fulfilled", "cancelled"):
        raise PledgeNotOpen(f"the pledge is {pledge.status}")
    remaining = pledge.amount - pledge.paid
    amount = remaining if request.amount is None else request.amount
    if amount > remaining:
        raise refused("exceeds_pledge", f"{remaining} cents remain to pay on this pledge")
    return amount


def _receipt_sms(
    head: CampaignHead,
    wallet: LockedAccount,
    reference: str,
    amount: int,
    now: datetime,
    balance: int,
    raised: int,
    state: ContributionState,
) -> OutboxMessage:
    assert wallet.phone is not None
    return sms_message(
        to=wallet.phone,
        template="harambee_contributed",
        language=wallet.language or "en",
        dedupe_key=journal_sms_key(reference, wallet.user_id),
        reference=reference,
        amount=format_kes(amount),
        code=head.code,
        title=head.title,
        when=sms_time(now),
        raised=format_kes(raised),
        target=format_kes(state.target_amount),
        balance=format_kes(balance),
    )


def _milestone_sms(head: CampaignHead, percent: int, raised: int, target: int) -> OutboxMessage:
    return sms_message(
        to=head.organiser_phone,
        template="harambee_milestone",
        language=head.organiser_language,
        # Once per milestone and target: a raised target may be reached again.
        dedupe_key=f"harambee:{head.id}:milestone:{percent}:{target}",
        code=head.code,
        title=head.title,
        percent=percent,
        raised=format_kes(raised),
        target=format_kes(target),
    )


def _receipt(uow: UnitOfWork, movement: Movement) -> Contribution:
    """The contribution a movement made, with the balances right after it (from
    its legs, so a replay answers exactly what the original did)."""
    with uow:
        row = uow.contributions.by_transaction(movement.transaction_id)
        entry = uow.ledger.find(transaction_id=movement.transaction_id)
    assert row is not None and entry is not None
    balance = next(leg.balance_after for leg in entry.legs if leg.user_id == row.user_id)
    raised = next(leg.balance_after for leg in entry.legs if leg.kind == "campaign")
    return _of_row(row, balance=balance, raised=raised, replayed=movement.replayed)


def _of_row(row: ContributionRow, *, balance: int, raised: int, replayed: bool) -> Contribution:
    columns = {field.name: getattr(row, field.name) for field in fields(row)}
    return Contribution(**columns, balance=balance, raised=raised, replayed=replayed)
