"""Request and answer bodies of the wages routes (app/api/v1/wages.py)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StrictInt, StrictStr

from app.api.v1.models import Phone, Pin, Strict
from app.domain.records.wages import EmployedWorker, PayRun, PayRunLine
from app.services.wages.employers import MAX_GROSS, MAX_WORKERS, NAME_MAX

Frequency = Literal["monthly", "weekly", "daily"]
Item = Literal["nssf", "shif", "ahl", "paye"]
MAX_ID = 2**63 - 1
WorkerId = Annotated[StrictInt, Field(ge=1, le=MAX_ID)]


class EmployerOut(BaseModel):
    employer: bool = Field(description="always true: the caller is an employer")
    created: bool = Field(description="true when the caller became one now")


class WorkerIn(Strict):
    phone: Phone
    display_name: StrictStr = Field(min_length=1, max_length=NAME_MAX, examples=["Achieng"])
    gross_pay: StrictInt = Field(
        gt=0, le=MAX_GROSS, description="cents each pay (1611375 = KES 16,113.75)"
    )
    frequency: Frequency
    deductions: list[Item] = Field(
        max_length=4, description="the statutory items the worker pays", examples=[["nssf"]]
    )


class WorkerPatch(Strict):
    """The terms to change (at least one); the phone never changes."""

    display_name: StrictStr | None = Field(default=None, min_length=1, max_length=NAME_MAX)
    gross_pay: StrictInt | None = Field(default=None, gt=0, le=MAX_GROSS, description="cents")
    frequency: Frequency | None = None
    deductions: list[Item] | None = Field(default=None, max_length=4)


class WorkerOut(BaseModel):
    id: int
    phone: str
    display_name: str
    gross_pay: int = Field(description="cents")
    frequency: Frequency
    deductions: list[Item]
    registered: bool = Field(description="the phone is on PayTrace")
    created_at: datetime
    invitation: Literal["invited", "already_invited", "not_sent"] | None = Field(
        default=None,
        description="POST only, for a phone not on PayTrace: the invitation SMS's fate",
    )


class WorkerPage(BaseModel):
    workers: list[WorkerOut]


class PayRunIn(Strict):
    pay_date: date = Field(description="the pay date: it chooses the rules in force")
    workers: list[WorkerId] | None = Field(
        default=None,
        max_length=MAX_WORKERS,
        description="worker ids; omitted: every active worker",
    )


class ApproveIn(Strict):
    pin: Pin = Field(description="the employer's PIN")


class DeductionOut(BaseModel):
    code: str = Field(examples=["nssf_tier_1"])
    item: Item
    employee: int = Field(description="cents, from gross pay")
    employer: int = Field(description="cents, the employer's share on top")


class LineOut(BaseModel):
    id: int
    worker_id: int
    phone: str
    display_name: str
    gross: int
    frequency: Frequency
    deductions: list[DeductionOut]
    employee_deductions: int
    employer_contributions: int
    net: int
    status: Literal["queued", "paid", "failed", "retried"]
    failure: str | None
    reference: str | None = Field(description="the payment's (or release's) reference")


class PayRunOut(BaseModel):
    id: int
    reference: str
    pay_date: date
    status: Literal[
        "draft", "approved", "funded", "paying", "completed", "partially_failed", "canceled"
    ]
    total_cost: int = Field(description="cents: gross pay and employer shares, held on approval")
    created_at: datetime
    approved_at: datetime | None
    ended_at: datetime | None
    lines: list[LineOut] | None = Field(default=None, description="one run only")


class PayRunPage(BaseModel):
    pay_runs: list[PayRunOut]


class PayslipOut(BaseModel):
    pay_date: date
    gross: int
    deductions: list[DeductionOut]
    net: int
    reference: str | None


class PayslipPage(BaseModel):
    payslips: list[PayslipOut]


def worker_out(worker: EmployedWorker, invitation: str | None = None) -> WorkerOut:
    return WorkerOut(
        id=worker.id,
        phone=worker.phone,
        display_name=worker.display_name,
        gross_pay=worker.gross_pay,
        frequency=worker.frequency,  # type: ignore[arg-type]
        deductions=list(worker.deductions),  # type: ignore[arg-type]
        registered=worker.registered,
        created_at=worker.created_at,
        invitation=invitation,  # type: ignore[arg-type]
    )


def deductions_out(line: PayRunLine) -> list[DeductionOut]:
    return [
        DeductionOut(code=x.code, item=x.item, employee=x.employee, employer=x.employer)  # type: ignore[arg-type]
        for x in line.deductions
    ]


def line_out(line: PayRunLine) -> LineOut:
    return LineOut(
        id=line.id,
        worker_id=line.worker_id,
        phone=line.phone,
        display_name=line.display_name,
        gross=line.gross,
        frequency=line.frequency,  # type: ignore[arg-type]
        deductions=deductions_out(line),
        employee_deductions=line.employee_deductions,
        employer_contributions=line.employer_contributions,
        net=line.net,
        status=line.status,  # type: ignore[arg-type]
        failure=line.failure,
        reference=line.reference,
    )


def run_out(run: PayRun, lines: list[PayRunLine] | None = None) -> PayRunOut:
    return PayRunOut(
        id=run.id,
        reference=run.reference,
        pay_date=run.pay_date,
        status=run.status,  # type: ignore[arg-type]
        total_cost=run.total_cost,
        created_at=run.created_at,
        approved_at=run.approved_at,
        ended_at=run.ended_at,
        lines=None if lines is None else [line_out(line) for line in lines],
    )
