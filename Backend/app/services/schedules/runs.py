"""The worker's side of scheduled payments: make what is due, remind, run.

- `materialise_due(now)`: every active schedule whose next instant has come gets one
  occurrence per instant up to now (unique per schedule and instant, so a second worker
  or a rerun makes nothing twice). A worker that was down makes every missed instant at
  once and pays them late rather than never; the owner gets one SMS saying so.
- `remind(now)`: the SMS the day before, once per instant (the schedule remembers
  which instant it reminded of; the outbox's dedupe key is the backstop).
- `run_next(now)`: claim one open occurrence whose time has come, with its schedule,
  `FOR UPDATE SKIP LOCKED`, and pay it through its kind's executor with the
  occurrence's own idempotency key. The claim's transaction stays open while the
  executor commits the payment in its own; a crash between the two leaves the
  occurrence open, and running it again replays the payment (same key) instead of
  paying twice. No funds (or over a limit): an SMS and a retry a day later, twice; then
  skipped with an SMS; the third skip in a row pauses the schedule, with an SMS.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.db.unit_of_work import UnitOfWork
from app.domain import schedules as rules
from app.domain.bills import AT_AIRTIME
from app.domain.money import format_kes
from app.domain.records.schedules import (
    ACTIVE,
    FINISHED,
    PAID,
    PAUSED,
    RETRYING,
    SKIPPED,
    Occurrence,
    Schedule,
)
from app.errors import InsufficientFunds, LimitExceeded, PayTraceError, ServiceUnavailable
from app.services.ledger import sms_time
from app.services.notifications import queue_sms
from app.services.schedules.executors import Payment
from app.services.schedules.kinds import EXECUTORS

BATCH = 100
# An instant made this long after it fell due was missed (the worker was down): its
# owner is told the payment runs late.
CATCH_UP_AFTER = timedelta(hours=1)
REMIND_AHEAD = timedelta(days=1)
# No funds: tried at its time, then again a day later, twice; then skipped.
RETRY_AFTER = timedelta(days=1)
ATTEMPTS = 3
# This many skips in a row (payments refused, not pauses) pause the schedule.
SKIPS_TO_PAUSE = 3
# Why an attempt could not pay now: it is retried.
SHORT = {InsufficientFunds: "no_funds", LimitExceeded: "limit"}


@dataclass(frozen=True)
class Ran:
    """What one run of an occurrence came to."""

    occurrence_id: int
    schedule_id: int
    status: str  # paid | retrying | skipped
    reason: str | None
    reference: str | None  # the payment's journal reference when paid
    paused: bool  # this skip paused the schedule


def materialise_due(uow: UnitOfWork, now: datetime, *, shortcode: str) -> int:
    """Make the occurrences due by `now` for up to BATCH schedules; commits. Returns how
    many schedules were moved on (BATCH: call again)."""
    with uow:
        due = uow.schedules.claim_due(now, BATCH)
        for schedule in due:
            instants = _instants_upto(schedule, now)
            for instant in instants:
                uow.schedules.add_occurrence(schedule.id, instant, now)
            following = rules.next_due(schedule.rule, instants[-1])
            uow.schedules.advance(schedule.id, following, now)
            if now - instants[0] > CATCH_UP_AFTER:
                _tell(
                    uow,
                    schedule,
                    "schedule_caught_up",
                    f"schedule_caught_up:{schedule.id}:{instant_key(instants[0])}",
                    shortcode=shortcode,
                    count=len(instants),
                    when=sms_time(instants[0]),
                )
        uow.commit()
    return len(due)


def _instants_upto(schedule: Schedule, now: datetime) -> list[datetime]:
    assert schedule.next_due_at is not None  # claimed: active and due
    found = [schedule.next_due_at]
    while (following := rules.next_due(schedule.rule, found[-1])) is not None and following <= now:
        found.append(following)
    return found


def remind(uow: UnitOfWork, now: datetime, *, shortcode: str) -> int:
    """Queue the day-before SMS of up to BATCH schedules due within REMIND_AHEAD;
    commits. Returns how many were reminded (BATCH: call again)."""
    with uow:
        due = uow.schedules.to_remind(now, now + REMIND_AHEAD, BATCH)
        for schedule in due:
            assert schedule.next_due_at is not None
            _tell(
                uow,
                schedule,
                "schedule_reminder",
                f"schedule_reminder:{schedule.id}:{instant_key(schedule.next_due_at)}",
                shortcode=shortcode,
                when=sms_time(schedule.next_due_at),
            )
            uow.schedules.mark_reminded(schedule.id, schedule.next_due_at)
        uow.commit()
    return len(due)


def run_next(
    claim_uow: UnitOfWork,
    pay_uow: UnitOfWork,
    now: datetime,
    *,
    shortcode: str,
    bill_rails: tuple[str, ...] = (AT_AIRTIME,),
) -> Ran | None:
    """Run one open occurrence whose time has come; None when there is none. Two units
    of work: the claim's (held open) and the executor's payment. `bill_rails`:
    Settings.bill_rails. Raises ServiceUnavailable (nothing recorded: the occurrence
    runs again later)."""
    with claim_uow:
        claimed = claim_uow.schedules.claim_occurrence(now)
        if claimed is None:
            return None
        occurrence, schedule = claimed
        made = _made(claim_uow, occurrence, schedule)
        if made is not None:  # paid before a crash: recorded, never paid again
            ran = _paid(claim_uow, occurrence, schedule, made, now)
        elif schedule.status not in (ACTIVE, FINISHED):
            # Pausing and stopping halt open occurrences themselves; this is the backstop.
            key = occurrence_key(occurrence.id)
            held = EXECUTORS[schedule.kind].abandon(claim_uow, schedule, key, now)
            if held is not None:
                ran = _paid(claim_uow, occurrence, schedule, held, now)
            else:
                ran = _skip(claim_uow, occurrence, schedule, schedule.status, now, count=False)
        else:
            ran = _attempt(claim_uow, pay_uow, occurrence, schedule, now, shortcode, bill_rails)
        claim_uow.commit()
    return ran


def halt_open(uow: UnitOfWork, schedule: Schedule, reason: str, now: datetime) -> int:
    """The schedule is paused or stopped (reason): its open occurrences end, in the
    caller's transaction. One whose payment the ledger holds (made just before a crash,
    not yet recorded) is recorded paid, never skipped: its money moved. The rest are
    skipped, and what they made that holds nothing is closed (a wage run waiting for
    funds is canceled). Returns how many were skipped. Raises nothing."""
    executor = EXECUTORS[schedule.kind]
    for occurrence in uow.schedules.open_occurrences(schedule.id):
        made = executor.abandon(uow, schedule, occurrence_key(occurrence.id), now)
        if made is not None:
            uow.schedules.settle(
                occurrence.id, status=PAID, now=now, transaction_id=made.transaction_id
            )
    return uow.schedules.skip_open(schedule.id, reason, now)


def instant_key(instant: datetime) -> str:
    """An instant in an SMS's dedupe key, the same however it was read (UTC)."""
    return instant.astimezone(UTC).strftime("%Y%m%dT%H%MZ")


def occurrence_key(occurrence_id: int) -> str:
    """The idempotency key of every attempt to pay an occurrence: one payment at most."""
    return f"schedule:{occurrence_id}"


def _attempt(
    uow: UnitOfWork,
    pay_uow: UnitOfWork,
    occurrence: Occurrence,
    schedule: Schedule,
    now: datetime,
    shortcode: str,
    bill_rails: tuple[str, ...],
) -> Ran:
    executor = EXECUTORS[schedule.kind]
    try:
        payment = executor.pay(
            pay_uow,
            schedule,
            occurrence_key(occurrence.id),
            now,
            occurrence.due_at,
            bill_rails=bill_rails,
        )
    except ServiceUnavailable:
        raise
    except (InsufficientFunds, LimitExceeded) as short:
        return _short(uow, occurrence, schedule, SHORT[type(short)], now, shortcode)
    except PayTraceError as refusal:
        return _skip_and_tell(uow, occurrence, schedule, f"refused:{refusal.code}", now, shortcode)
    return _paid(uow, occurrence, schedule, payment, now)


def _made(uow: UnitOfWork, occurrence: Occurrence, schedule: Schedule) -> Payment | None:
    return EXECUTORS[schedule.kind].made(uow, schedule, occurrence_key(occurrence.id))


def _paid(
    uow: UnitOfWork, occurrence: Occurrence, schedule: Schedule, payment: Payment, now: datetime
) -> Ran:
    uow.schedules.settle(occurrence.id, status=PAID, now=now, transaction_id=payment.transaction_id)
    uow.schedules.count_skip(schedule.id, skipped=False)
    return Ran(occurrence.id, schedule.id, PAID, None, payment.reference, paused=False)


def _short(
    uow: UnitOfWork,
    occurrence: Occurrence,
    schedule: Schedule,
    reason: str,
    now: datetime,
    shortcode: str,
) -> Ran:
    attempts = occurrence.attempts + 1
    if attempts < ATTEMPTS:
        retry_at = now + RETRY_AFTER
        uow.schedules.settle(
            occurrence.id, status=RETRYING, now=now, reason=reason, next_attempt_at=retry_at
        )
        _tell(
            uow,
            schedule,
            "schedule_short",
            f"schedule_short:{occurrence.id}:{attempts}",
            shortcode=shortcode,
            when=sms_time(occurrence.due_at),
            retry=sms_time(retry_at),
        )
        return Ran(occurrence.id, schedule.id, RETRYING, reason, None, paused=False)
    return _skip_and_tell(uow, occurrence, schedule, reason, now, shortcode)


def _skip_and_tell(
    uow: UnitOfWork,
    occurrence: Occurrence,
    schedule: Schedule,
    reason: str,
    now: datetime,
    shortcode: str,
) -> Ran:
    """The occurrence will not be paid: what it made that holds nothing is closed (a
    wage run waiting for funds is canceled), then it is skipped and the owner told. A
    payment found held instead (the employer approved the run meanwhile) is recorded
    paid, with no SMS."""
    made = EXECUTORS[schedule.kind].abandon(uow, schedule, occurrence_key(occurrence.id), now)
    if made is not None:
        return _paid(uow, occurrence, schedule, made, now)
    ran = _skip(uow, occurrence, schedule, reason, now, count=True)
    _tell_skipped(uow, schedule, occurrence, ran, shortcode)
    return ran


def _skip(
    uow: UnitOfWork,
    occurrence: Occurrence,
    schedule: Schedule,
    reason: str,
    now: datetime,
    *,
    count: bool,
) -> Ran:
    uow.schedules.settle(occurrence.id, status=SKIPPED, now=now, reason=reason)
    paused = False
    if count and uow.schedules.count_skip(schedule.id, skipped=True) >= SKIPS_TO_PAUSE:
        paused = schedule.status == ACTIVE
        if paused:
            halt_open(uow, schedule, PAUSED, now)
            uow.schedules.set_status(schedule.id, status=PAUSED, now=now)
    return Ran(occurrence.id, schedule.id, SKIPPED, reason, None, paused=paused)


def _tell_skipped(
    uow: UnitOfWork, schedule: Schedule, occurrence: Occurrence, ran: Ran, shortcode: str
) -> None:
    template = "schedule_paused" if ran.paused else "schedule_skipped"
    _tell(
        uow,
        schedule,
        template,
        f"{template}:{occurrence.id}",
        shortcode=shortcode,
        when=sms_time(occurrence.due_at),
        skips=SKIPS_TO_PAUSE,
    )


def _tell(
    uow: UnitOfWork, schedule: Schedule, template: str, dedupe_key: str, **params: object
) -> None:
    owner = uow.users.get_by_id(schedule.owner_user_id)
    assert owner is not None  # users are never deleted
    queue_sms(
        uow,
        to=owner.phone,
        template=template,
        language=owner.language,
        dedupe_key=dedupe_key,
        amount=format_kes(schedule.amount),
        name=schedule.payee_name,
        **params,
    )
