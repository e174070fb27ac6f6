"""Scheduled payments over REST: Send money, a bill or airtime that repeats itself,
weekly or monthly.

`POST /api/v1/schedules` needs an `Idempotency-Key` and the PIN, as Send money does:
the same key with the same body answers the same schedule; with another body, 409.
Nothing moves when it is created: the worker pays each occurrence at its time (Nairobi)
and the sender gets an SMS the day before. Pause, resume and stop need the signed-in
session only: they never move money out by themselves.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import BaseModel, Field, StrictInt, StrictStr

from app.api.admin_models import PrintableStr
from app.api.phone_input import e164
from app.api.v1.context import Api, CurrentUser
from app.api.v1.models import Phone, Pin, Strict
from app.api.v1.responses import COMMON, SIGNED_IN, errors
from app.api.v1.transfers import IdempotencyKey
from app.domain import schedules as rules
from app.domain.records.schedules import Occurrence, Schedule
from app.errors import refused
from app.services.keys import keyed_digest
from app.services.schedules import manage
from app.services.transfers import MAX_TRANSFER, NOTE_MAX

MAX_ID = 2**63 - 1
ScheduleId = Annotated[int, Path(ge=1, le=MAX_ID, examples=[1])]
Clock = Annotated[StrictStr, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]


BillerCode = Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9_]{1,31}$")]


class ScheduleIn(Strict):
    kind: Literal["transfer", "bill", "airtime"] = Field(
        default="transfer", description="transfer: `to`; bill, airtime: `biller` and `account`"
    )
    to: Phone | None = Field(default=None, description="transfer: the recipient's phone")
    biller: BillerCode | None = Field(default=None, examples=["kplc_prepaid"])
    account: PrintableStr | None = Field(
        default=None, max_length=32, description="bill: the account; airtime: the phone"
    )
    amount: StrictInt = Field(gt=0, le=MAX_TRANSFER, description="cents (50000 = KES 500)")
    frequency: Literal["weekly", "monthly"]
    day: StrictInt = Field(
        ge=1, le=31, description="weekly: 1-7 (Monday 1); monthly: 1-31 (31: the last day)"
    )
    time: Clock = Field(description="Nairobi time, HH:MM", examples=["09:00"])
    start: date = Field(description="the first date it may run (today or later, Nairobi)")
    until: date | None = Field(default=None, description="the last date it may run")
    count: StrictInt | None = Field(default=None, ge=1, le=rules.MAX_COUNT)
    note: PrintableStr | None = Field(default=None, max_length=NOTE_MAX)
    pin: Pin = Field(description="the sender's PIN")


class OccurrenceOut(BaseModel):
    due_at: datetime
    status: Literal["due", "retrying", "paid", "skipped"]
    attempts: int
    next_attempt_at: datetime | None = Field(description="when it is tried again, if open")
    reason: str | None = Field(
        description="no_funds, limit, paused, stopped or refused:<code>", examples=["no_funds"]
    )
    reference: str | None = Field(description="the payment's reference when paid")
    paid_at: datetime | None
    skipped_at: datetime | None


class ScheduleOut(BaseModel):
    id: int
    kind: Literal["transfer", "bill", "airtime", "wage"]
    to: str = Field(
        description="transfer: the recipient's phone; bill, airtime: biller:account;"
        " wage: the worker's id"
    )
    recipient_name: str = Field(description="whom it pays, as the owner is shown it")
    amount: int = Field(description="cents")
    note: str | None
    frequency: Literal["weekly", "monthly"]
    day: int
    time: str = Field(examples=["09:00"])
    start: date
    until: date | None
    count: int | None
    status: Literal["active", "paused", "stopped", "finished"]
    next_due_at: datetime | None
    consecutive_skips: int
    created_at: datetime
    occurrences: list[OccurrenceOut] | None = Field(
        default=None, description="newest first (GET one schedule only)"
    )


class SchedulePage(BaseModel):
    schedules: list[ScheduleOut]


router = APIRouter(
    prefix="/api/v1/schedules", tags=["schedules"], responses={**COMMON, **SIGNED_IN}
)


@router.post(
    "",
    summary="Schedule a repeating Send money, bill or airtime",
    status_code=status.HTTP_201_CREATED,
    responses=errors(403, 404, 409),
)
async def create(
    body: ScheduleIn,
    response: Response,
    api: Api,
    caller: CurrentUser,
    idempotency_key: IdempotencyKey,
) -> ScheduleOut:
    """Pay `amount` cents to the wallet on `to` (kind `transfer`), or to `biller` for
    `account` (kinds `bill`, `airtime`: held when due, then paid by the rail, as
    `/bills/payments`), every week or month from `start`, until `until` or `count` times
    (or for five years). Errors: `wrong_pin` (401), `pin_locked` (403),
    `recipient_not_registered` / `biller_not_found` (404), `idempotency_key_reused` /
    `biller_unavailable` (409), `invalid_schedule` / `invalid_start` /
    `too_many_schedules` / `send_to_self` / `invalid_payee` / `invalid_account` /
    `not_on_network` / `invalid_amount` (422)."""
    hour, minute = (int(part) for part in body.time.split(":"))
    new = manage.NewSchedule(
        owner_user_id=caller.user_id,
        kind=body.kind,
        payee=_payee(body),
        amount=body.amount,
        frequency=body.frequency,
        day=body.day,
        at_time=time(hour, minute),
        start_date=body.start,
        until_date=body.until,
        count=body.count,
        note=body.note,
        idempotency_key=f"api:{idempotency_key}",
        channel="api",
    )
    pin_digest = keyed_digest(api.attempt_key, idempotency_key, body.pin)
    attempt_key = f"api-schedule:{caller.user_id}:{idempotency_key}:{pin_digest}"
    made = await api.services.pin_checked(
        caller.user_id,
        body.pin,
        attempt_key,
        manage.create,
        new,
        datetime.now(UTC),
        bill_rails=api.services.settings.bill_rails,
    )
    if made.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return schedule_out(made.schedule)


@router.get("", summary="My scheduled payments, newest first")
async def list_schedules(
    api: Api,
    caller: CurrentUser,
    live: Annotated[bool, Query(description="active and paused ones only")] = False,
) -> SchedulePage:
    found = await api.services.run(
        manage.list_for, caller.user_id, live_only=live, limit=manage.MAX_SHOWN
    )
    return SchedulePage(schedules=[schedule_out(s) for s in found])


@router.get("/{schedule_id}", summary="One scheduled payment and its occurrences")
async def get_schedule(api: Api, caller: CurrentUser, schedule_id: ScheduleId) -> ScheduleOut:
    """Each occurrence with its outcome: paid (with its reference), retrying (no funds,
    and when it is tried again) or skipped (and why). Error: `schedule_not_found` (404)."""
    shown = await api.services.run(manage.show, caller.user_id, schedule_id)
    return schedule_out(shown.schedule, shown.occurrences)


@router.post("/{schedule_id}/pause", summary="Pause", responses=errors(409))
async def pause(api: Api, caller: CurrentUser, schedule_id: ScheduleId) -> ScheduleOut:
    """Nothing is paid until resumed; an occurrence waiting for a retry is skipped.
    Errors: `schedule_not_found` (404), `schedule_ended` (409)."""
    return await _change(api, caller, schedule_id, manage.pause)


@router.post("/{schedule_id}/resume", summary="Resume", responses=errors(409))
async def resume(api: Api, caller: CurrentUser, schedule_id: ScheduleId) -> ScheduleOut:
    """Pays again from the next date after now; the dates while paused are not made up
    for. Errors: `schedule_not_found` (404), `schedule_ended` (409)."""
    return await _change(api, caller, schedule_id, manage.resume)


@router.post("/{schedule_id}/stop", summary="Stop for good", responses=errors(409))
async def stop(api: Api, caller: CurrentUser, schedule_id: ScheduleId) -> ScheduleOut:
    """Errors: `schedule_not_found` (404), `schedule_ended` (409, finished already)."""
    return await _change(api, caller, schedule_id, manage.stop)


async def _change(api: Api, caller: CurrentUser, schedule_id: int, change) -> ScheduleOut:
    changed = await api.services.run(change, caller.user_id, schedule_id, datetime.now(UTC))
    return schedule_out(changed)


def _payee(body: ScheduleIn) -> str:
    """The payee as the kind stores it; refuses what the kind lacks (422)."""
    if body.kind == "transfer":
        if body.to is None or body.biller is not None or body.account is not None:
            raise refused("invalid_payee", "a transfer takes `to` only")
        return e164(body.to)
    if body.biller is None or body.account is None or body.to is not None:
        raise refused("invalid_payee", f"a {body.kind} takes `biller` and `account`")
    return f"{body.biller}:{body.account}"


def schedule_out(s: Schedule, occurrences: list[Occurrence] | None = None) -> ScheduleOut:
    return ScheduleOut(
        id=s.id,
        kind=s.kind,
        to=s.payee,
        recipient_name=s.payee_name,
        amount=s.amount,
        note=s.note,
        frequency=s.frequency,
        day=s.day,
        time=s.at_time.strftime("%H:%M"),
        start=s.start_date,
        until=s.until_date,
        count=s.max_count,
        status=s.status,
        next_due_at=s.next_due_at,
        consecutive_skips=s.consecutive_skips,
        created_at=s.created_at,
        occurrences=None if occurrences is None else [occurrence_out(o) for o in occurrences],
    )


def occurrence_out(o: Occurrence) -> OccurrenceOut:
    return OccurrenceOut(
        due_at=o.due_at,
        status=o.status,
        attempts=o.attempts,
        next_attempt_at=o.next_attempt_at if o.status in ("due", "retrying") else None,
        reason=o.reason,
        reference=o.reference,
        paid_at=o.paid_at,
        skipped_at=o.skipped_at,
    )
