"""Contributing: money from a wallet into a campaign's escrow, paying now or toward
a pledge, with the receipt SMS and the organiser's milestone SMS.

A contribution is a ledger movement like Send money: one read without a lock (the
campaign's head, the contributor), then one statement, `ledger_contribute` (migration
0045), that locks the wallet and the escrow in the lock order, reads the key, the outflows,
the campaign and the pledge after the locks, checks the rules and the tier limits,
posts, records the contribution and commits. The escrow is a hot account (everyone
pays into it), so its lock is never held across a round trip to the client.

Long (over 300 lines) because a contribution's one transaction, its replay and its
two SMS (receipt and milestone) are kept beside each other.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime

from app.db.repositories.campaigns import CampaignHead
from app.db.repositories.contributions import (
    ContributionOutcome,
    ContributionRow,
    SlottedMessage,
)
from app.db.repositories.ledger import Overdraft, Party
from app.db.repositories.outbox import OutboxMessage
from app.db.unit_of_work import UnitOfWork
from app.domain import harambee as rules
from app.domain.money import nairobi_day, new_reference
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
    reference = new_reference()
    with uow:
        # Two round trips, each its own transaction: a read without a lock (the
        # campaign's head and the contributor, for the SMS), then one statement that
        # checks and posts everything under the wallet's and the escrow's locks and
        # commits (migration 0045): the escrow, a hot account, stays locked only inside
        # PostgreSQL, never across a round trip.
        with uow.statements_commit_themselves():
            head, contributor = uow.contributions.parties(request.campaign_id, request.user_id)
            if head is None:
                raise campaign_not_found()
            if contributor is None:
                raise NotFound("no wallet for this user")
            try:
                posted = uow.contributions.post(
                    user_id=request.user_id,
                    head=head,
                    amount=request.amount,
                    pledge_id=request.pledge_id,
                    idempotency_key=key,
                    request_hash=fingerprint,
                    reference=reference,
                    channel=request.channel,
                    created_at=now,
                    today=nairobi_day(now),
                    is_anonymous=request.is_anonymous,
                    message=request.message,
                    receipt=_slotted(receipt_sms(head, contributor, reference, now, **_SLOTS)),
                    milestones=tuple(
                        _slotted(milestone_sms(head, percent, **_MILESTONE_SLOTS), percent)
                        for percent in rules.MILESTONES
                    ),
                )
            except Overdraft:  # unreachable under the row lock; the CHECK is the backstop
                balance = uow.ledger.wallet_balance(request.user_id) or 0  # autocommit
                raise InsufficientFunds(balance=balance, needed=request.amount or 0) from None
            _refuse_unless_posted(uow, posted, request)
        if posted.outcome == "replay":
            earlier = earlier_result(uow, key, fingerprint)
            assert earlier is not None
            return earlier
    assert posted.transaction_id is not None and posted.contribution_id is not None
    assert posted.amount is not None and posted.balance is not None
    assert posted.raised is not None
    return Contribution(
        id=posted.contribution_id,
        transaction_id=posted.transaction_id,
        reference=reference,
        campaign_id=head.id,
        user_id=request.user_id,
        contributor_name=contributor.full_name,
        amount=posted.amount,
        pledge_id=request.pledge_id,
        is_anonymous=request.is_anonymous,
        message=request.message,
        created_at=now,
        balance=posted.balance,
        raised=posted.raised,
        replayed=False,
    )


def _refuse_unless_posted(
    uow: UnitOfWork, posted: ContributionOutcome, request: ContributionRequest
) -> None:
    """Raise the refusal ledger_contribute answered (it wrote nothing), as the
    statement-by-statement contribution raised it."""
    match posted.outcome:
        case "posted" | "replay":
            return
        case "no_wallet":
            raise NotFound("no wallet for this user")
        case "not_open":
            assert posted.detail is not None
            raise CampaignNotOpen(_why_not_open(posted.detail))
        case "no_pledge":
            raise NotFound("no such pledge")
        case "pledge_closed":
            raise PledgeNotOpen(f"the pledge is {posted.detail}")
        case "exceeds_pledge":
            raise refused(
                "exceeds_pledge", f"{posted.remaining} cents remain to pay on this pledge"
            )
        case "limits":
            limits = uow.ledger.tier_limits(request.user_id)
            assert limits is not None and posted.amount is not None
            assert posted.day_total is not None and posted.rolling_total is not None
            check_limits(limits, posted.amount, posted.day_total, posted.rolling_total)
            raise AssertionError("ledger_contribute and check_limits disagree")
        case "insufficient":
            assert posted.balance is not None and posted.amount is not None
            raise InsufficientFunds(balance=posted.balance, needed=posted.amount)
    raise AssertionError(f"unknown ledger_contribute outcome {posted.outcome}")


def _why_not_open(status: str) -> str:
    if status == "active":
        return "the campaign has passed its end date"
    return f"the campaign is {status}"


# Stand for the values ledger_contribute knows only under the lock; PostgreSQL text can
# hold no NUL, so no title, name or template contains one.
def _slot(name: str) -> str:
    return f"\x00{name}\x00"


_SLOTS = {name: _slot(name) for name in ("amount", "balance", "raised", "target")}
_MILESTONE_SLOTS = {
    "raised": _slot("raised"),
    "target": _slot("target"),
    "target_cents": _slot("target_cents"),
}


def _slotted(message: OutboxMessage, percent: int | None = None) -> SlottedMessage:
    payload = dict(message.payload)
    text = payload.pop("message")
    return SlottedMessage(
        message.kind,
        payload,
        tuple(message.dedupe_key.split("\x00")),
        tuple(text.split("\x00")),
        percent,
    )


def receipt_sms(
    head: CampaignHead,
    contributor: Party,
    reference: str,
    now: datetime,
    *,
    amount: str,
    balance: str,
    raised: str,
    target: str,
) -> OutboxMessage:
    """The contributor's receipt, amounts already formatted (or slots)."""
    return sms_message(
        to=contributor.phone,
        template="harambee_contributed",
        language=contributor.language or "en",
        dedupe_key=journal_sms_key(reference, contributor.user_id),
        reference=reference,
        amount=amount,
        code=head.code,
        title=head.title,
        when=sms_time(now),
        raised=raised,
        target=target,
        balance=balance,
    )


def milestone_sms(
    head: CampaignHead, percent: int, *, raised: str, target: str, target_cents: str
) -> OutboxMessage:
    """The organiser's SMS when the escrow crosses `percent` of the target."""
    return sms_message(
        to=head.organiser_phone,
        template="harambee_milestone",
        language=head.organiser_language,
        # Once per milestone and target: a raised target may be reached again.
        dedupe_key=f"harambee:{head.id}:milestone:{percent}:{target_cents}",
        code=head.code,
        title=head.title,
        percent=percent,
        raised=raised,
        target=target,
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
