"""The console's money tables: transactions (find, detail, reversal behind a
confirmation; a delivered bill's reversal once the biller refunded it; a stuck bill's
resolution on the rail's own evidence), parked
settlements (retry), and the callback log."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from app.config import Settings
from app.console.trail import Console, ConsoleRoute, Operating, Viewer
from app.console.web import reason_of, redirect
from app.errors import NotFound, refused
from app.integrations.stellar import Horizon
from app.services import console_transactions, inbound_callbacks, settlement_admin
from app.services.admin_audit import REASON_MAX
from app.services.admin_views import TransactionView
from app.services.bills import payments as bill_payments
from app.services.bills import resolutions as bill_resolutions
from app.services.bills import reversals as bill_reversals

router = APIRouter(prefix="/console", include_in_schema=False, route_class=ConsoleRoute)

TransactionId = Annotated[int, Path(ge=1, le=2**63 - 1)]
SETTLEMENTS_PAGE = 50
CALLBACKS_PAGE = 50
STUCK_BILLS_PAGE = bill_payments.STUCK_PAGE_MAX


@router.get("/transactions", name="find_transactions")
async def transactions(console: Viewer, q: Annotated[str, Query(max_length=32)] = "") -> Response:
    found = None
    if q.strip():
        console.audit.detail["query"] = q.strip()
        found = await console.run(console_transactions.search, q)
    return console.page("transactions.html", q=q, found=found)


async def _view(console: Console, transaction_id: int) -> TransactionView:
    console.audit.target("transaction", str(transaction_id))
    view = await console.run(console_transactions.detail, transaction_id)
    if view is None:
        raise NotFound("no such transaction")
    return view


@router.get("/transactions/{transaction_id}", name="transaction")
async def transaction(
    transaction_id: TransactionId,
    console: Viewer,
    reversed_: Annotated[str | None, Query(alias="reversed", max_length=8)] = None,
) -> Response:
    view = await _view(console, transaction_id)
    bill = None
    if view.kind == "bill_payment":  # reversed as a bill, once the biller refunded it
        bill = await console.run(console_transactions.bill_of, transaction_id)
    return console.page(
        "transaction.html",
        tx=view,
        bill=bill,
        reversed=reversed_,
        may_act=console.session.role != "viewer",
    )


@router.get("/transactions/{transaction_id}/reverse", name="confirm_reversal")
async def confirm_reversal(transaction_id: TransactionId, console: Operating) -> Response:
    """The confirmation page: what the reversal will move, and the reason to give."""
    view = await _view(console, transaction_id)
    return console.page("reverse.html", tx=view, csrf=console.session.csrf, reason_max=REASON_MAX)


@router.post("/transactions/{transaction_id}/reverse", name="reverse_transaction")
async def reverse_transaction(transaction_id: TransactionId, console: Operating) -> Response:
    console.audit.target("transaction", str(transaction_id))
    if console.form.get("confirm") != "yes":
        raise refused("not_confirmed", "confirm the reversal on its confirmation page")
    console.audit.reason = reason_of(console.form)
    movement = await console.run(
        console_transactions.reverse, transaction_id=transaction_id, reason=console.audit.reason
    )
    return redirect(f"/console/transactions/{movement.transaction_id}?reversed=yes")


@router.get("/transactions/{transaction_id}/reverse-bill", name="confirm_bill_reversal")
async def confirm_bill_reversal(transaction_id: TransactionId, console: Operating) -> Response:
    """The confirmation page of a delivered bill's reversal: the bill, what comes back,
    the biller's refund reference and the reason to give."""
    view = await _view(console, transaction_id)
    bill = await console.run(console_transactions.bill_of, transaction_id)
    if bill is None:
        raise NotFound("no bill was delivered by this transaction")
    return console.page(
        "reverse_bill.html",
        tx=view,
        bill=bill,
        csrf=console.session.csrf,
        reason_max=bill_reversals.REASON_MAX,
    )


@router.post("/transactions/{transaction_id}/reverse-bill", name="reverse_bill")
async def reverse_bill(transaction_id: TransactionId, console: Operating) -> Response:
    console.audit.target("transaction", str(transaction_id))
    if console.form.get("confirm") != "yes":
        raise refused("not_confirmed", "confirm the reversal on its confirmation page")
    console.audit.reason = reason_of(console.form)
    refund = console.form.get("refund_reference", "").strip()
    if bill_reversals.REFUND_REFERENCE.match(refund):  # only text the audit row can keep
        console.audit.detail["refund_reference"] = refund
    done = await console.run(
        console_transactions.reverse_bill,
        transaction_id=transaction_id,
        refund_reference=refund,
        reason=console.audit.reason,
    )
    return redirect(f"/console/transactions/{done.transaction_id}?reversed=bill")


# Letters and digits only: the audit row's target before the bill is looked up.
BillId = Annotated[str, Path(pattern=r"^[A-Za-z0-9]{1,10}$")]


@router.get("/bills", name="stuck_bills")
async def stuck_bills(console: Viewer) -> Response:
    """The admin API's bills needing an operator, each with its resolution for those
    who may resolve it."""
    rows = await console.run(bill_payments.bills_needing_an_operator, STUCK_BILLS_PAGE)
    return console.page("stuck_bills.html", rows=rows, may_act=console.session.role != "viewer")


@router.get("/bills/{bill_id}/resolve", name="confirm_bill_resolution")
async def confirm_bill_resolution(bill_id: BillId, console: Operating) -> Response:
    """The confirmation page of a stuck bill's resolution: the bill, what each outcome
    moves, the rail's receipt and the reason to give."""
    console.audit.target("bill", bill_id)
    bill = await console.run(bill_resolutions.bill, bill_id)
    if bill is None:
        raise NotFound("no such bill")
    return console.page(
        "resolve_bill.html",
        bill=bill,
        csrf=console.session.csrf,
        reason_max=bill_resolutions.REASON_MAX,
    )


@router.post("/bills/{bill_id}/resolve", name="resolve_bill")
async def resolve_bill(bill_id: BillId, console: Operating) -> Response:
    console.audit.target("bill", bill_id)
    if console.form.get("confirm") != "yes":
        raise refused("not_confirmed", "confirm the resolution on its confirmation page")
    console.audit.reason = reason_of(console.form)
    outcome = console.form.get("outcome", "")
    receipt = console.form.get("receipt", "").strip() or None
    if outcome in bill_resolutions.OUTCOMES:  # only text the audit row can keep
        console.audit.detail["outcome"] = outcome
    if receipt and bill_resolutions.RECEIPT.match(receipt):
        console.audit.detail["receipt"] = receipt
    done = await console.run(
        bill_resolutions.resolve_bill,
        bill_resolutions.Rails.from_settings(console.runtime.settings),
        bill_reference=bill_id,
        outcome=outcome,
        receipt=receipt,
        reason=console.audit.reason,
    )
    return redirect(f"/console/transactions/{done.transaction_id}")


@router.get("/settlements", name="settlements")
async def settlements(
    console: Viewer,
    status: Annotated[Literal["failed", "pending", "submitted"], Query()] = "failed",
    after: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    retried: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> Response:
    rows, more = await console.run(
        settlement_admin.unsettled, status=status, limit=SETTLEMENTS_PAGE, after=after
    )
    return console.page(
        "settlements.html",
        rows=rows,
        status=status,
        later=rows[-1].transaction_id if more and rows else None,
        retried=retried,
        csrf=console.session.csrf,
        may_act=console.session.role != "viewer",
    )


def _stellar(settings: Settings) -> Horizon | None:
    """The network a retry asks about the refused envelope (None: custody is off)."""
    return Horizon.from_settings(settings) if settings.stellar_horizon_url else None


@router.post("/settlements/{transaction_id}/retry", name="retry_settlement")
async def retry_settlement(transaction_id: TransactionId, console: Operating) -> Response:
    console.audit.target("transaction", str(transaction_id))
    _, retried = await console.run(
        settlement_admin.retry, _stellar(console.runtime.settings), transaction_id=transaction_id
    )
    if not retried:  # nothing committed: the row written after the answer says so
        console.audit.detail["retried"] = False
    return redirect(f"/console/settlements?retried={transaction_id}")


@router.get("/callbacks", name="callback_log")
async def callbacks(
    console: Viewer,
    provider: Annotated[Literal["", "mpesa", "at"] | None, Query()] = None,
    outcome: Annotated[str | None, Query(max_length=40, pattern=r"^[a-z_]*$")] = None,
    reference: Annotated[str | None, Query(max_length=200, pattern=r"^[\x21-\x7e]*$")] = None,
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> Response:
    """Filtered as the admin API's list: by provider, outcome and what a callback names
    (a CheckoutRequestID, an OriginatorConversationID, AT's message id); empty is all."""
    rows, more = await console.run(
        inbound_callbacks.page,
        limit=CALLBACKS_PAGE,
        before_id=before,
        provider=provider or None,
        outcome=outcome or None,
        reference=reference or None,
    )
    return console.page(
        "callbacks.html",
        rows=rows,
        provider=provider,
        outcome=outcome or "",
        reference=reference or "",
        older=rows[-1].id if more and rows else None,
    )
