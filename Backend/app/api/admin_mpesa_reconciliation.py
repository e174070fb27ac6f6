"""The admin API's view of M-Pesa reconciliation:
`GET /api/v1/admin/reconciliation/mpesa[?day=YYYY-MM-DD]`.

Each East Africa Time day, PayTrace's deposits and withdrawals are compared with
M-Pesa's statement (the worker does yesterday daily, `make -C Backend reconcile-mpesa
DAY=...` any day); this reads a day's latest report (by default the most recent
day's) with its differences. It only reads. Same conventions as app/api/admin.py: ADMIN_TOKEN as a
bearer token, `{"error", "detail"}` failures, amounts in cents.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal, Self

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

from app.api.admin_auth import AdminRuntime, admin_router
from app.domain.records.mpesa import StoredItem, StoredMpesaReport
from app.errors import NotFound
from app.services import mpesa_reconciliation

router = admin_router(r404="no report (for that day) yet")

EXAMPLE_ITEM = {
    "kind": "state_mismatch",
    "direction": "out",
    "paytrace_reference": "K7QX2M9PLA",
    "paytrace_status": "released",
    "paytrace_amount": 50000,
    "paytrace_at": "2026-11-29T05:24:49+03:00",
    "mpesa_receipt": "UKT3Q8XSZ1",
    "mpesa_amount": 50000,
    "mpesa_at": "2026-11-29T05:24:50+03:00",
    "mpesa_reference": "K7QX2M9PLA",
    "mpesa_counterparty": "254712345678",
    "delta": 50000,
    "record": "withdrawal",
}
EXAMPLE = {
    "id": 31,
    "day": "2026-11-29",
    "version": 1,
    "source": "statement_file",
    "started_at": "2026-11-30T02:00:00.112+03:00",
    "finished_at": "2026-11-30T02:00:01.604+03:00",
    "matched": 412,
    "differences": 1,
    "sound": False,
    "totals": {
        "mpesa_in": 8120000,
        "mpesa_out": 2650000,
        "paytrace_in": 8120000,
        "paytrace_out": 2600000,
        "difference_in": 0,
        "difference_out": 50000,
        "counts": {
            "missing_at_mpesa": 0,
            "missing_at_paytrace": 0,
            "amount_mismatch": 0,
            "state_mismatch": 1,
            "duplicate": 0,
        },
        "amounts": {
            "missing_at_mpesa": 0,
            "missing_at_paytrace": 0,
            "amount_mismatch": 0,
            "state_mismatch": 50000,
            "duplicate": 0,
        },
    },
    "items": [EXAMPLE_ITEM],
}


class MpesaDifferenceOut(BaseModel):
    kind: Literal[
        "missing_at_mpesa", "missing_at_paytrace", "amount_mismatch", "state_mismatch", "duplicate"
    ]
    direction: Literal["in", "out"] = Field(
        description="in: paid in to PayTrace; out: paid out (B2C, B2B, a reversal)"
    )
    record: str | None = Field(
        description="deposit, withdrawal, merchant_payout, order_refund, order_payment,"
        " order_reversal, bill_payment; null when missing at PayTrace (and for items"
        " stored before records)"
    )
    paytrace_reference: str | None = Field(
        description="the record's reference (an order payment's and reversal's: M-Pesa's TransID)"
    )
    paytrace_status: str | None
    paytrace_amount: int | None
    paytrace_at: datetime | None = Field(description="when PayTrace recorded it")
    mpesa_receipt: str | None
    mpesa_amount: int | None
    mpesa_at: datetime | None = Field(description="the statement's completion time")
    mpesa_reference: str | None = Field(description="the STK AccountReference / B2C Occasion")
    mpesa_counterparty: str | None = Field(description="the customer's MSISDN per M-Pesa")
    delta: int = Field(description="M-Pesa's amount minus what PayTrace's ledger moved")

    @classmethod
    def of(cls, item: StoredItem) -> Self:
        fields = {name: getattr(item, name) for name in cls.model_fields}
        return cls(**fields)


class MpesaTotalsOut(BaseModel):
    mpesa_in: int = Field(description="the day's statement, paid in")
    mpesa_out: int = Field(description="the day's statement, withdrawn")
    paytrace_in: int = Field(description="what PayTrace's ledger took in that belongs to the day")
    paytrace_out: int = Field(description="what PayTrace's ledger paid out that belongs to the day")
    difference_in: int = Field(description="mpesa_in - paytrace_in")
    difference_out: int = Field(description="mpesa_out - paytrace_out")
    counts: dict[str, int] = Field(description="differences of each kind")
    amounts: dict[str, int] = Field(description="the sum of each kind's deltas")


class MpesaReconciliationOut(BaseModel):
    """One day's report (its latest version). Amounts are cents."""

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    id: int
    day: date = Field(description="the East Africa Time day reconciled")
    version: int = Field(description="runs of the same day are versions; this is the latest")
    source: str = Field(description="statement_file (MPESA_STATEMENT_DIR) or daraja_sandbox")
    started_at: datetime
    finished_at: datetime
    matched: int = Field(description="pairs of the day that agree")
    differences: int
    sound: bool = Field(description="true when differences is 0")
    totals: MpesaTotalsOut
    items: list[MpesaDifferenceOut] = Field(
        description=f"the first {mpesa_reconciliation.LISTED} differences"
    )

    @classmethod
    def of(cls, stored: StoredMpesaReport, items: list[StoredItem]) -> Self:
        return cls(
            id=stored.id,
            day=stored.day,
            version=stored.version,
            source=stored.source,
            started_at=stored.started_at,
            finished_at=stored.finished_at,
            matched=stored.matched,
            differences=stored.differences,
            sound=stored.differences == 0,
            totals=MpesaTotalsOut(**stored.totals),
            items=[MpesaDifferenceOut.of(item) for item in items],
        )


@router.get("/reconciliation/mpesa", summary="The latest reconciliation of PayTrace against M-Pesa")
async def mpesa_reconciliation_report(
    runtime: AdminRuntime,
    day: Annotated[
        date | None,
        Query(description="YYYY-MM-DD (East Africa Time); without it, the most recent day"),
    ] = None,
) -> MpesaReconciliationOut:
    """A day's deposits and withdrawals compared with M-Pesa's statement: what is missing
    on either side, amounts that differ, and payments M-Pesa made that PayTrace's ledger
    did not (state mismatch). Read-only: nothing here moves money."""
    found = await runtime.run(mpesa_reconciliation.report, day)
    if found is None:
        raise NotFound(
            f"no M-Pesa reconciliation of {day.isoformat()} yet"
            if day
            else "no M-Pesa reconciliation has run yet"
        )
    return MpesaReconciliationOut.of(*found)
