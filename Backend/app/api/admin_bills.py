"""The admin API's bills: the list an operator must look at
(`GET /api/v1/admin/bills/needing-operator`), its resolution on the rail's own evidence
(`POST /api/v1/admin/bills/{bill_id}/resolve`) and the reversal of a delivered bill the
biller refunded (`POST /api/v1/admin/bills/{bill_id}/reverse`).

A bill's amount and fee stay held until the rail's confirmed answer ends it
(docs/bills.md); a bill whose answer was lost with nothing left to ask the rail, or one
held for over a day, is never released on a guess: it is listed here, with what the
rail knows of it, for an operator to settle with the biller; the list only reads. Same
conventions as app/api/admin.py: ADMIN_TOKEN as a bearer token, `{"error", "detail"}`
failures, amounts in cents.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Self

from fastapi import Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from app.api.admin_auth import AdminRuntime, admin_router
from app.api.admin_models import ErrorOut, PrintableStr
from app.domain.records.bills import BillPayment
from app.services.bills import payments as bill_payments
from app.services.bills import resolutions, reversals

router = admin_router()


class StuckBillOut(BaseModel):
    reference: str
    biller: str = Field(description="the biller's code")
    rail: str
    account: str = Field(description="the meter, account or phone the bill is for")
    amount: int = Field(description="cents, held with the fee")
    fee: int
    status: str = Field(description="held | unknown")
    rail_request_id: str | None = Field(description="the rail's id for it, if it gave one")
    failure: str | None = Field(description="what made it unknown")
    next_check_at: datetime | None = Field(description="when the worker asks the rail next")
    created_at: datetime

    @classmethod
    def of(cls, bill: BillPayment) -> Self:
        return cls(
            reference=bill.reference,
            biller=bill.biller_code,
            rail=bill.rail,
            account=bill.account,
            amount=bill.amount,
            fee=bill.fee,
            status=bill.status,
            rail_request_id=bill.rail_request_id,
            failure=bill.failure,
            next_check_at=bill.check_after,
            created_at=bill.created_at,
        )


class StuckBillsOut(BaseModel):
    items: list[StuckBillOut]


@router.get("/bills/needing-operator", summary="Bills still held that need an operator")
async def bills_needing_operator(
    runtime: AdminRuntime,
    limit: Annotated[int, Query(ge=1, le=bill_payments.STUCK_PAGE_MAX)] = 50,
) -> StuckBillsOut:
    """Bills whose amount is still held and that the worker will not end by itself
    (unknown with nothing left to ask the rail), or held for over a day; oldest first.
    Read-only: nothing here moves money."""
    rows = await runtime.run(bill_payments.bills_needing_an_operator, limit)
    return StuckBillsOut(items=[StuckBillOut.of(row) for row in rows])


class BillReverseRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"refund_reference": "KPLC-RF-2026-00123", "reason": "token for a wrong meter"}
            ]
        },
    )

    # Printable: both are written to the audit row, which keeps only text PostgreSQL can.
    refund_reference: PrintableStr = Field(
        max_length=64,
        description="the biller's reference of its refund to PayTrace (3 to 64 letters,"
        " digits, '.', '/', '_' or '-'); one refund reverses one bill",
    )
    reason: PrintableStr = Field(max_length=reversals.REASON_MAX, description="why, for the audit")


class BillReversalOut(BaseModel):
    bill: str = Field(description="the bill's reference (its id)")
    transaction_id: int = Field(description="the 'bill_reversal' journal transaction")
    reference: str = Field(description="the reversal's reference, in the user's SMS")
    amount: int = Field(description="the bill's amount, cents")
    fee: int = Field(description="the bill's fee, returned too")
    refunded: int = Field(description="cents back to the wallet: amount + fee - cashback")
    cashback_returned: int = Field(description="the bill's cashback, back to promotions")
    refund_reference: str
    reason: str
    created_at: datetime
    replayed: bool = Field(description="true: this bill was reversed before by this request")

    @classmethod
    def of(cls, r: reversals.BillReversal) -> Self:
        return cls(
            bill=r.bill,
            transaction_id=r.transaction_id,
            reference=r.reference,
            amount=r.amount,
            fee=r.fee,
            refunded=r.refunded,
            cashback_returned=r.cashback_returned,
            refund_reference=r.refund_reference,
            reason=r.reason,
            created_at=r.created_at,
            replayed=r.replayed,
        )


# Letters and digits only: the id is the audit row's target before the bill is looked up.
BillId = Annotated[
    str,
    Path(
        pattern=r"^[A-Za-z0-9]{1,10}$",
        description="the bill's reference",
        examples=["K7QX2M9PLA"],
    ),
]


@router.post(
    "/bills/{bill_id}/reverse",
    summary="Reverse a delivered bill the biller refunded",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": BillReversalOut, "description": "reversed before by this same request"},
        400: {"model": ErrorOut, "description": "the body is not JSON text (e.g. not UTF-8)"},
        404: {"model": ErrorOut, "description": "no such bill"},
        409: {
            "model": ErrorOut,
            "description": "`not_reversible`: not delivered (held, unknown, failed) or"
            " reversed by another request; `idempotency_key_reused`: reversed before with"
            " another refund reference or reason; `refund_reference_used`: that refund"
            " reversed another bill",
        },
        422: {
            "model": ErrorOut,
            "description": "`invalid_refund_reference`, `invalid_reason`, or the request is"
            " malformed",
        },
    },
)
async def reverse_bill(
    bill_id: BillId, body: BillReverseRequest, response: Response, runtime: AdminRuntime
) -> BillReversalOut:
    """Once per bill, ever: the clearing account pays back the amount and the fees the
    fee; the bill's cashback goes back to the promotions account and the rest to the
    wallet, in one movement; the bill becomes `reversed`; the user gets an SMS. The same
    request again answers the same reversal (200)."""
    runtime.audit.target("bill", bill_id)
    runtime.audit.reason = body.reason.strip()[:200] or None
    runtime.audit.detail["refund_reference"] = body.refund_reference
    done = await runtime.run(
        reversals.reverse_bill,
        bill_reference=bill_id,
        refund_reference=body.refund_reference,
        reason=body.reason,
    )
    if done.replayed:
        response.status_code = status.HTTP_200_OK
    return BillReversalOut.of(done)


class BillResolveRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "outcome": "delivered",
                    "receipt": "UKT7ZQ4M2P",
                    "reason": "M-Pesa's statement shows the B2B payment",
                },
                {"outcome": "failed", "reason": "the send never reached M-Pesa"},
            ]
        },
    )

    outcome: Literal["delivered", "failed"]
    # Printable: both are written to the audit row, which keeps only text PostgreSQL can.
    receipt: PrintableStr | None = Field(
        default=None,
        max_length=64,
        description="delivered only: M-Pesa's receipt of the B2B payment (a Paybill"
        " bill), AT's transactionId (a top-up)",
    )
    reason: PrintableStr = Field(
        max_length=resolutions.REASON_MAX, description="why, for the audit"
    )


class BillResolutionOut(BaseModel):
    bill: str = Field(description="the bill's reference (its id)")
    outcome: str = Field(description="delivered | failed")
    grounds: str = Field(
        description="mpesa_statement | at_status (the rail's evidence of a delivery);"
        " outbox_gave_up | statement_clear (the rail provably has no payment)"
    )
    receipt: str | None
    transaction_id: int = Field(description="the ending's journal transaction")
    reason: str
    created_at: datetime
    replayed: bool = Field(description="true: resolved before by this same request")

    @classmethod
    def of(cls, r: resolutions.BillResolution) -> Self:
        return cls(
            bill=r.bill,
            outcome=r.outcome,
            grounds=r.grounds,
            receipt=r.receipt,
            transaction_id=r.transaction_id,
            reason=r.reason,
            created_at=r.created_at,
            replayed=r.replayed,
        )


@router.post(
    "/bills/{bill_id}/resolve",
    summary="End a stuck bill on the rail's own evidence",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": BillResolutionOut, "description": "resolved before by this same request"},
        400: {"model": ErrorOut, "description": "the body is not JSON text (e.g. not UTF-8)"},
        404: {"model": ErrorOut, "description": "no such bill"},
        409: {
            "model": ErrorOut,
            "description": "`not_stuck`, `already_resolved`; delivered: `receipt_not_on_statement`,"
            " `receipt_not_found`, `receipt_mismatch`, `receipt_used`; failed:"
            " `rail_may_have_paid`, `mpesa_paid`, `too_early`, `statement_incomplete`;"
            " `window_too_long`",
        },
        422: {
            "model": ErrorOut,
            "description": "`invalid_outcome`, `invalid_receipt`, `invalid_reason`, or the"
            " request is malformed",
        },
        503: {
            "model": ErrorOut,
            "description": "`statement_unavailable`, `rail_unavailable`: the rail cannot be"
            " asked now",
        },
    },
)
async def resolve_bill(
    bill_id: BillId, body: BillResolveRequest, response: Response, runtime: AdminRuntime
) -> BillResolutionOut:
    """Once per bill, ever: delivered (the rail's receipt, checked against M-Pesa's
    statement or AT's status) or failed (the rail provably has no payment), through the
    same endings as the rail's own answer: ledger, SMS, cashback, settlement. The same
    request again answers the same resolution (200)."""
    runtime.audit.target("bill", bill_id)
    runtime.audit.reason = body.reason.strip()[:200] or None
    runtime.audit.detail["outcome"] = body.outcome
    if body.receipt and resolutions.RECEIPT.match(body.receipt.strip()):
        runtime.audit.detail["receipt"] = body.receipt.strip()
    done = await runtime.run(
        resolutions.resolve_bill,
        resolutions.Rails.from_settings(runtime.settings),
        bill_reference=bill_id,
        outcome=body.outcome,
        receipt=body.receipt,
        reason=body.reason,
    )
    if done.replayed:
        response.status_code = status.HTTP_200_OK
    return BillResolutionOut.of(done)
