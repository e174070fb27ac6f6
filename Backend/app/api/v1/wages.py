"""Wages over REST (docs/wages.md): become an employer, add workers by phone, make a pay
run, approve it with the PIN (the whole cost is held; the worker pays each line), read
the monthly dues report as CSV; a worker reads their payslips.

Making a run and approving it need an `Idempotency-Key`: the same key answers the same
run (`Idempotent-Replayed: true`); approving a run twice holds its money once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from app.api.phone_input import e164
from app.api.v1.context import Api, CurrentUser
from app.api.v1.responses import COMMON, SIGNED_IN, errors
from app.api.v1.transfers import IdempotencyKey
from app.api.v1.wages_models import (
    MAX_ID,
    ApproveIn,
    EmployerOut,
    PayRunIn,
    PayRunOut,
    PayRunPage,
    PayslipOut,
    PayslipPage,
    WorkerIn,
    WorkerOut,
    WorkerPage,
    WorkerPatch,
    deductions_out,
    run_out,
    worker_out,
)
from app.errors import InviteLimitReached, ValidationFailed, refused
from app.services.keys import keyed_digest
from app.services.wages import employers, pay_runs, reports, retries

ItemId = Annotated[int, Path(ge=1, le=MAX_ID, examples=[1])]
Month = Annotated[str, Path(pattern=r"^20[0-9]{2}-(0[1-9]|1[0-2])$", examples=["2025-11"])]

router = APIRouter(prefix="/api/v1/employer", tags=["wages"], responses={**COMMON, **SIGNED_IN})
payslips = APIRouter(prefix="/api/v1/payslips", tags=["wages"], responses={**COMMON, **SIGNED_IN})


@router.post("", summary="Become an employer")
async def become(api: Api, caller: CurrentUser) -> EmployerOut:
    """Any user may; a second call changes nothing (`created` false)."""
    made = await api.services.run(employers.become_employer, caller.user_id)
    return EmployerOut(employer=True, created=made)


@router.get("/workers", summary="My workers")
async def list_workers(api: Api, caller: CurrentUser) -> WorkerPage:
    """Error: `not_an_employer` (404)."""
    found = await api.services.run(employers.list_workers, caller.user_id)
    return WorkerPage(workers=[worker_out(w) for w in found])


@router.post(
    "/workers",
    summary="Add a worker by phone",
    status_code=status.HTTP_201_CREATED,
    responses=errors(409),
)
async def add_worker(body: WorkerIn, api: Api, caller: CurrentUser) -> WorkerOut:
    """A phone not on PayTrace is sent an invitation SMS (`invitation` says whether).
    Errors: `not_an_employer` (404), `worker_exists` (409), `invalid_phone`,
    `invalid_name`, `invalid_deductions`, `send_to_self`, `too_many_workers` (422)."""
    added = await api.services.run(
        employers.add_worker,
        employer_user_id=caller.user_id,
        phone=e164(body.phone),
        display_name=body.display_name,
        gross_pay=body.gross_pay,
        frequency=body.frequency,
        deductions=list(body.deductions),
    )
    invitation = None
    if not added.registered:
        try:
            sent = await api.services.invite(sender_user_id=caller.user_id, phone=added.phone)
            invitation = "invited" if sent else "already_invited"
        except (InviteLimitReached, ValidationFailed):  # the worker is added all the same
            invitation = "not_sent"
    return worker_out(added, invitation)


@router.patch("/workers/{worker_id}", summary="Change a worker's terms", responses=errors(404))
async def edit_worker(
    body: WorkerPatch, api: Api, caller: CurrentUser, worker_id: ItemId
) -> WorkerOut:
    """The name, gross pay, frequency or statutory items (those given; at least one).
    Runs made before keep their payslips; the next run uses the new terms. Errors:
    `not_an_employer` / `worker_not_found` (404), `nothing_to_change`, `invalid_name`,
    `invalid_deductions`, `frequency_scheduled` (a live wage schedule: stop it first)
    (422)."""
    changes = body.model_dump(exclude_none=True)
    if not changes:
        raise refused("nothing_to_change", "give at least one term to change")
    edited = await api.services.run(employers.edit_worker, caller.user_id, worker_id, **changes)
    return worker_out(edited)


@router.delete(
    "/workers/{worker_id}", summary="Stop paying a worker", status_code=status.HTTP_204_NO_CONTENT
)
async def remove_worker(api: Api, caller: CurrentUser, worker_id: ItemId) -> Response:
    """Later runs leave the worker out. Error: `worker_not_found` (404)."""
    await api.services.run(employers.remove_worker, caller.user_id, worker_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/pay-runs",
    summary="Make a draft pay run",
    status_code=status.HTTP_201_CREATED,
    responses=errors(409),
)
async def create_run(
    body: PayRunIn, response: Response, api: Api, caller: CurrentUser, key: IdempotencyKey
) -> PayRunOut:
    """One line per worker with its payslip (the rules in force on `pay_date`); nothing
    moves until approved. Errors: `not_an_employer` (404), `idempotency_key_reused`
    (409), `no_workers`, `too_many_workers`, `no_rule_in_force`, `pay_too_low` (422)."""
    made = await api.services.run(
        pay_runs.create_pay_run,
        employer_user_id=caller.user_id,
        pay_date=body.pay_date,
        idempotency_key=key,
        worker_ids=body.workers,
    )
    if made.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return run_out(made.run, made.lines)


@router.get("/pay-runs", summary="My pay runs, newest first")
async def list_runs(api: Api, caller: CurrentUser) -> PayRunPage:
    """Error: `not_an_employer` (404)."""
    found = await api.services.run(pay_runs.list_pay_runs, caller.user_id)
    return PayRunPage(pay_runs=[run_out(run) for run in found])


@router.get("/pay-runs/{run_id}", summary="One pay run and its lines")
async def get_run(api: Api, caller: CurrentUser, run_id: ItemId) -> PayRunOut:
    """Error: `pay_run_not_found` (404)."""
    shown = await api.services.run(pay_runs.show_pay_run, caller.user_id, run_id)
    return run_out(shown.run, shown.lines)


@router.post("/pay-runs/{run_id}/approve", summary="Approve and pay", responses=errors(403))
async def approve_run(
    body: ApproveIn,
    response: Response,
    api: Api,
    caller: CurrentUser,
    run_id: ItemId,
    key: IdempotencyKey,
) -> PayRunOut:
    """Holds the run's `total_cost` from the wallet; each line is then paid by the worker
    and its payslip sent by SMS. Errors: `wrong_pin` (401), `pin_locked` (403),
    `pay_run_not_found` (404), `insufficient_funds`, `limit_exceeded` (422)."""
    # Another employer's run is not found before any PIN is checked (nor counted).
    await api.services.run(pay_runs.show_pay_run, caller.user_id, run_id)
    pin_digest = keyed_digest(api.attempt_key, key, body.pin)
    attempt_key = f"api-pay-run:{caller.user_id}:{run_id}:{key}:{pin_digest}"
    shown = await api.services.pin_checked(
        caller.user_id,
        body.pin,
        attempt_key,
        pay_runs.approve_pay_run,
        employer_user_id=caller.user_id,
        run_id=run_id,
        now=datetime.now(UTC),
    )
    if shown.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return run_out(shown.run, shown.lines)


@router.post(
    "/pay-runs/{run_id}/retry",
    summary="Retry the failed lines in a new run",
    status_code=status.HTTP_201_CREATED,
    responses=errors(409),
)
async def retry_run(
    response: Response, api: Api, caller: CurrentUser, run_id: ItemId, key: IdempotencyKey
) -> PayRunOut:
    """A new draft run (same pay date) of the workers whose lines failed (e.g. not on
    PayTrace then); those lines become `retried`. Approve it as any run. Errors:
    `pay_run_not_found` (404), `idempotency_key_reused` (409), `nothing_to_retry`,
    `no_workers` (422)."""
    made = await api.services.run(
        retries.retry_failed_lines,
        employer_user_id=caller.user_id,
        run_id=run_id,
        idempotency_key=key,
    )
    if made.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return run_out(made.run, made.lines)


@router.get(
    "/reports/{month}",
    summary="What is due to whom, one month (CSV)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def dues_report(api: Api, caller: CurrentUser, month: Month) -> Response:
    """One row per worker and item of the lines paid in runs dated that month, then each
    item's total; amounts in cents. Error: `not_an_employer` (404)."""
    year, number = (int(part) for part in month.split("-"))
    text = await api.services.run(reports.dues_csv, caller.user_id, year, number)
    return Response(
        content=text,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="dues-{month}.csv"'},
    )


@payslips.get("", summary="My payslips, newest first")
async def my_payslips(api: Api, caller: CurrentUser) -> PayslipPage:
    found = await api.services.run(reports.payslips_of_worker, caller.user_id)
    return PayslipPage(
        payslips=[
            PayslipOut(
                pay_date=pay_date,
                gross=line.gross,
                deductions=deductions_out(line),
                net=line.net,
                reference=line.reference,
            )
            for line, pay_date in found
        ]
    )
