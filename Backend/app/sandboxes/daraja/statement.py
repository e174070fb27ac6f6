"""The sandbox's account statement: `GET /sandbox/statement?date=YYYY-MM-DD`.

Daraja has no statement API: Safaricom's org portal exports an organisation account's
statement, which an operator downloads. The sandbox serves the same rows from what it
actually did - every STK push the customer paid and every paybill (C2B) payment
completed (paid in), every B2C and B2B payment made and every reversal done (withdrawn)
that completed on that East Africa Time day, up to now - in the portal's
column names, so PayTrace reads them with the parser it uses for the real CSV
(app/integrations/mpesa_statement.py). A development tool only.
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.sandboxes.daraja.config import SandboxConfig
from app.sandboxes.daraja.identifiers import EAT, eat
from app.sandboxes.daraja.processing import REASONS
from app.sandboxes.daraja.store import (
    B2BRecord,
    B2CRecord,
    C2BRecord,
    ReversalRecord,
    StkRecord,
    Store,
)

router = APIRouter(prefix="/sandbox", tags=["sandbox control"])


def _completion(epoch: float) -> str:
    return eat(epoch).strftime("%Y-%m-%d %H:%M:%S")


def _shillings(amount: int) -> str:
    return f"{amount}.00"


def _paid_in(push: StkRecord) -> dict:
    return {
        "Receipt No.": push.receipt,
        "Completion Time": _completion(push.settles_at),
        "Initiation Time": _completion(push.created_at),
        "Details": f"Pay Bill Online from {push.phone} - Sandbox Customer",
        "Transaction Status": "Completed",
        "Paid In": _shillings(push.amount),
        "Withdrawn": "",
        "Reason Type": "Pay Bill Online",
        "Other Party Info": f"{push.phone} - Sandbox Customer",
        "A/C No.": push.account_reference,
        "Conversation ID": push.checkout_request_id,
    }


def _withdrawn(payment: B2CRecord) -> dict:
    return {
        "Receipt No.": payment.transaction_id,
        "Completion Time": _completion(payment.settles_at),
        "Initiation Time": _completion(payment.created_at),
        "Details": f"{REASONS[payment.command_id]} to {payment.phone} - Sandbox Customer",
        "Transaction Status": "Completed",
        "Paid In": "",
        "Withdrawn": f"-{_shillings(payment.amount)}",
        "Reason Type": REASONS[payment.command_id],
        "Other Party Info": f"{payment.phone} - Sandbox Customer",
        "A/C No.": payment.occasion,
        "Conversation ID": payment.conversation_id,
    }


def _paybill(payment: C2BRecord) -> dict:
    # A paybill payment has no conversation: its TransID is all M-Pesa gives.
    reason = "Pay Bill" if payment.command_id == "CustomerPayBillOnline" else "Buy Goods"
    return {
        "Receipt No.": payment.trans_id,
        "Completion Time": _completion(payment.settled_at or payment.created_at),
        "Initiation Time": _completion(payment.created_at),
        "Details": f"{reason} from {payment.phone} - Sandbox Customer Acc. {payment.bill_ref}",
        "Transaction Status": "Completed",
        "Paid In": _shillings(payment.amount),
        "Withdrawn": "",
        "Reason Type": reason,
        "Other Party Info": f"{payment.phone} - Sandbox Customer",
        "A/C No.": payment.bill_ref,
        "Conversation ID": "",
    }


def _business(payment: B2BRecord) -> dict:
    return {
        "Receipt No.": payment.transaction_id,
        "Completion Time": _completion(payment.settles_at),
        "Initiation Time": _completion(payment.created_at),
        "Details": f"Business Pay Bill to {payment.party_b} Acc. {payment.account_reference}",
        "Transaction Status": "Completed",
        "Paid In": "",
        "Withdrawn": f"-{_shillings(payment.amount)}",
        "Reason Type": "Business Pay Bill",
        "Other Party Info": f"{payment.party_b} - Sandbox Biller",
        "A/C No.": payment.account_reference,
        "Conversation ID": payment.conversation_id,
    }


def _reversal(reversal: ReversalRecord) -> dict:
    # The reversed payment's receipt is in the row (A/C No. here; the real portal's
    # Details name it): what PayTrace knows a reversal by when no conversation id is kept.
    return {
        "Receipt No.": reversal.transaction_id,
        "Completion Time": _completion(reversal.settles_at),
        "Initiation Time": _completion(reversal.created_at),
        "Details": f"Reversal of transaction {reversal.trans_id}",
        "Transaction Status": "Completed",
        "Paid In": "",
        "Withdrawn": f"-{_shillings(reversal.amount)}",
        "Reason Type": "Reversal",
        "Other Party Info": "",
        "A/C No.": reversal.trans_id,
        "Conversation ID": reversal.conversation_id,
    }


@router.get(
    "/statement",
    summary="The account statement of a day (East Africa Time)",
    description="Development tool (local Daraja sandbox); absent in production. Rows as"
    " Safaricom's org portal exports them; amounts in shillings.",
)
def statement(request: Request, date: str) -> JSONResponse:
    """Completed payments of `date` (YYYY-MM-DD, East Africa Time) up to now, oldest first."""
    try:
        day = _day(date)
    except ValueError:
        return JSONResponse(
            {"error": "invalid_date", "detail": "date must be YYYY-MM-DD"}, status_code=400
        )
    start = datetime(day.year, day.month, day.day, tzinfo=EAT)
    end = min((start + timedelta(days=1)).timestamp(), time.time())
    store: Store = request.app.state.store
    config: SandboxConfig = request.app.state.config
    pushes, payments = store.completed_between(start.timestamp(), end)
    paybill, business, reversals = store.rail_completed_between(start.timestamp(), end)
    rows = sorted(
        [(p.settles_at, _paid_in(p)) for p in pushes]
        + [(p.settles_at, _withdrawn(p)) for p in payments]
        + [(p.settled_at or p.created_at, _paybill(p)) for p in paybill]
        + [(p.settles_at, _business(p)) for p in business]
        + [(r.settles_at, _reversal(r)) for r in reversals],
        key=lambda pair: pair[0],
    )
    return JSONResponse(
        {
            "date": day.isoformat(),
            "organisation": config.organization_name,
            "shortcodes": {"paybill": config.shortcode, "b2c": config.b2c_shortcode},
            "entries": [row for _, row in rows],
        }
    )


def _day(text: str) -> date:
    if len(text) != 10:
        raise ValueError(text)
    return date.fromisoformat(text)
