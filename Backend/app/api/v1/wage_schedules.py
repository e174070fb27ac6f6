"""Recurring pay runs over REST (docs/wages.md, "Recurring pay runs"): put a worker's
pay on a schedule at the worker's frequency, list the employer's wage schedules, pause,
resume and stop one.

Creating one needs an `Idempotency-Key` and the PIN, as scheduling Send money does:
every occurrence then holds the worker's whole cost without a PIN. Pause, resume and
stop need the signed-in session only (they never move money out), and work on
`/api/v1/schedules/{id}` too: a wage schedule is a scheduled payment of kind `wage`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated

from fastapi import APIRouter, Path, Response, status
from pydantic import Field, StrictInt

from app.api.v1.context import Api, CurrentUser
from app.api.v1.models import Pin, Strict
from app.api.v1.responses import COMMON, SIGNED_IN, errors
from app.api.v1.schedules import Clock, ScheduleOut, SchedulePage, schedule_out
from app.api.v1.transfers import IdempotencyKey
from app.api.v1.wages_models import MAX_ID
from app.domain import schedules as rules
from app.services.keys import keyed_digest
from app.services.schedules import manage
from app.services.schedules import wages as wage_schedules
from app.services.wages import employers

ItemId = Annotated[int, Path(ge=1, le=MAX_ID, examples=[1])]

router = APIRouter(prefix="/api/v1/employer", tags=["wages"], responses={**COMMON, **SIGNED_IN})


class WageScheduleIn(Strict):
    day: StrictInt = Field(
        ge=1,
        le=31,
        description="a monthly worker: 1-31 (31: the month's last day); weekly: 1-7 (Monday 1)",
    )
    time: Clock = Field(default="09:00", description="Nairobi time, HH:MM", examples=["09:00"])
    start: date = Field(description="the first date it may run (today or later, Nairobi)")
    until: date | None = Field(default=None, description="the last date it may run")
    count: StrictInt | None = Field(default=None, ge=1, le=rules.MAX_COUNT)
    pin: Pin = Field(description="the employer's PIN")


@router.post(
    "/workers/{worker_id}/schedule",
    summary="Pay a worker on a schedule",
    status_code=status.HTTP_201_CREATED,
    responses=errors(403, 404, 409),
)
async def create(
    body: WageScheduleIn,
    response: Response,
    api: Api,
    caller: CurrentUser,
    worker_id: ItemId,
    idempotency_key: IdempotencyKey,
) -> ScheduleOut:
    """Each date makes a pay run of the worker and approves it (the whole cost held
    from the wallet); the employer gets an SMS the day before. `amount` is the whole
    cost under today's rules. Errors: `wrong_pin` (401), `pin_locked` (403),
    `not_an_employer` / `worker_not_found` (404), `idempotency_key_reused` (409),
    `daily_not_scheduled` / `invalid_schedule` / `invalid_start` /
    `too_many_schedules` (422)."""
    # Another employer's worker is not found before any PIN is checked (nor counted).
    await api.services.run(employers.find_worker, caller.user_id, worker_id)
    hour, minute = (int(part) for part in body.time.split(":"))
    new = wage_schedules.NewWageSchedule(
        employer_user_id=caller.user_id,
        worker_id=worker_id,
        day=body.day,
        at_time=time(hour, minute),
        start_date=body.start,
        until_date=body.until,
        count=body.count,
        idempotency_key=f"api:{idempotency_key}",
        channel="api",
    )
    pin_digest = keyed_digest(api.attempt_key, idempotency_key, body.pin)
    attempt_key = f"api-wage-schedule:{caller.user_id}:{idempotency_key}:{pin_digest}"
    made = await api.services.pin_checked(
        caller.user_id, body.pin, attempt_key, wage_schedules.schedule_pay, new, datetime.now(UTC)
    )
    if made.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return schedule_out(made.schedule)


@router.get("/schedules", summary="My wage schedules, newest first")
async def list_schedules(api: Api, caller: CurrentUser) -> SchedulePage:
    """`to` is the worker's id, `recipient_name` the worker's name."""
    found = await api.services.run(wage_schedules.list_wage_schedules, caller.user_id)
    return SchedulePage(schedules=[schedule_out(s) for s in found])


@router.post("/schedules/{schedule_id}/pause", summary="Pause", responses=errors(409))
async def pause(api: Api, caller: CurrentUser, schedule_id: ItemId) -> ScheduleOut:
    """Nothing is paid until resumed; a date waiting for a retry is skipped. Errors:
    `schedule_not_found` (404), `schedule_ended` (409)."""
    return await _change(api, caller, schedule_id, manage.pause)


@router.post("/schedules/{schedule_id}/resume", summary="Resume", responses=errors(409))
async def resume(api: Api, caller: CurrentUser, schedule_id: ItemId) -> ScheduleOut:
    """Pays again from the next date after now; the dates while paused are not made up
    for. Errors: `schedule_not_found` (404), `schedule_ended` (409)."""
    return await _change(api, caller, schedule_id, manage.resume)


@router.post("/schedules/{schedule_id}/stop", summary="Stop for good", responses=errors(409))
async def stop(api: Api, caller: CurrentUser, schedule_id: ItemId) -> ScheduleOut:
    """Errors: `schedule_not_found` (404), `schedule_ended` (409, finished already)."""
    return await _change(api, caller, schedule_id, manage.stop)


async def _change(api: Api, caller: CurrentUser, schedule_id: int, change) -> ScheduleOut:
    changed = await api.services.run(change, caller.user_id, schedule_id, datetime.now(UTC))
    return schedule_out(changed)
