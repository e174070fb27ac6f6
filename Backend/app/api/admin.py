"""The operator/agent API under /api/v1/admin: look up, cash in, reverse, unlock, check,
and settlements on Stellar (list the parked ones, retry one).

Every route needs ADMIN_TOKEN as a bearer token (see app/api/admin_auth.py).
Amounts are integer cents; every failure is `{"error": code, "detail": message}`.

Long (over 300 lines) because every operator route on users, transactions and
settlements is declared here with its documented answers; each is a few lines.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import asdict
from typing import Annotated, Literal

from fastapi import Path, Query, Response, status

from app.api.admin_auth import AdminRuntime, admin_router
from app.api.admin_models import (
    CashInOut,
    CashInRequest,
    ErrorOut,
    LedgerCheckOut,
    ReconciliationOut,
    ReversalOut,
    ReverseRequest,
    SettlementItemOut,
    SettlementPageOut,
    SettlementRetryOut,
    TransactionOut,
    UnlockOut,
    UserOut,
)
from app.api.cursors import decode_cursor, encode_cursor
from app.api.phone_input import e164
from app.config import Settings
from app.errors import NotFound, ServiceUnavailable
from app.integrations.stellar import Horizon
from app.services import (
    accounts,
    adjustments,
    admin_views,
    pins,
    reconciliation,
    settlement_admin,
    statements,
)

log = logging.getLogger("paytrace.admin")

MAX_ID = 2**63 - 1  # BIGINT: a larger id cannot exist, and must not reach PostgreSQL


def _errors(*codes: int) -> dict[int | str, dict[str, object]]:
    return {code: {"model": ErrorOut} for code in codes}


router = admin_router(r400="the body is not JSON text (e.g. not UTF-8)")

PhonePath = Annotated[
    str, Path(description="any format, e.g. +254712345678 or 0712345678", examples=["0712345678"])
]
TransactionId = Annotated[int, Path(ge=1, le=MAX_ID, examples=[43])]


@router.get(
    "/users/{phone}",
    summary="A user's profile, balance and PIN state",
    responses=_errors(404),
)
async def get_user(phone: PhonePath, runtime: AdminRuntime) -> UserOut:
    """Look a user up by phone before acting on their account."""
    overview = await runtime.run(admin_views.user_overview, e164(phone))
    if overview is None:
        raise NotFound("no PayTrace user has this phone number")
    return UserOut.of(overview)


@router.post(
    "/cash-in",
    summary="Credit a wallet from the M-Pesa float",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": CashInOut, "description": "a repeat of an earlier cash-in (replayed)"},
        **_errors(404, 409),
    },
)
async def cash_in(body: CashInRequest, response: Response, runtime: AdminRuntime) -> CashInOut:
    """Cash in once per reference: the same reference, phone and amount again replays the
    first cash-in (200); the same reference with anything else is refused (409
    `idempotency_key_reused`)."""
    phone = e164(body.phone)
    runtime.audit.target("user", phone)
    runtime.audit.detail.update(amount=body.amount, reference=body.reference)
    movement = await runtime.run(
        adjustments.cash_in,
        phone=phone,
        amount=body.amount,
        reference=body.reference,
        channel="admin",
    )
    if movement.replayed:
        response.status_code = status.HTTP_200_OK
    else:
        log.info(
            "admin cash-in",
            extra={
                "transaction_id": movement.transaction_id,
                "amount": movement.amount,
                "request_id": runtime.audit.request_id,
            },
        )
    return CashInOut.of(movement, phone)


@router.get(
    "/transactions/{transaction_id}",
    summary="A journal transaction and its legs",
    responses=_errors(404),
)
async def get_transaction(transaction_id: TransactionId, runtime: AdminRuntime) -> TransactionOut:
    """What moved where, and whether it was reversed: read it before reversing."""
    view = await runtime.run(admin_views.transaction_view, transaction_id)
    if view is None:
        raise NotFound("no such transaction")
    return TransactionOut.of(view)


@router.post(
    "/transactions/{transaction_id}/reverse",
    summary="Reverse a journal transaction",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": ReversalOut, "description": "reversed before: that reversal (replayed)"},
        **_errors(404),
        409: {"model": ErrorOut, "description": "`not_reversible`: it is itself a reversal"},
        422: {
            "model": ErrorOut,
            "description": "`insufficient_funds`: a wallet no longer holds what it received;"
            " or the request is malformed",
        },
    },
)
async def reverse(
    transaction_id: TransactionId,
    response: Response,
    runtime: AdminRuntime,
    body: ReverseRequest | None = None,
) -> ReversalOut:
    """Post the exact opposite of a transaction, once; every wallet it touches gets an SMS."""
    if body is not None and body.reason:
        runtime.audit.reason = body.reason
    movement = await runtime.run(
        adjustments.reverse,
        transaction_id=transaction_id,
        reason=body.reason if body is not None else None,
        channel="admin",
    )
    view = await runtime.run(admin_views.transaction_view, movement.transaction_id)
    if view is None:  # a committed journal transaction is never deleted
        raise ServiceUnavailable("the reversal was posted but could not be read back")
    if movement.replayed:
        response.status_code = status.HTTP_200_OK
    else:
        log.info(
            "admin reversal",
            extra={
                "transaction_id": movement.transaction_id,
                "reverses": transaction_id,
                "request_id": runtime.audit.request_id,
            },
        )
    return ReversalOut.of(view, replayed=movement.replayed)


@router.post(
    "/users/{phone}/unlock",
    summary="Clear wrong-PIN failures and the PIN lock",
    responses=_errors(404),
)
async def unlock(phone: PhonePath, runtime: AdminRuntime) -> UnlockOut:
    """Support's reset after the caller proved who they are; the user is told by SMS."""
    profile = await runtime.run(accounts.get_profile, e164(phone))
    if profile is None:
        raise NotFound("no PayTrace user has this phone number")
    runtime.audit.detail["user_id"] = profile.user_id
    unlocked = await runtime.run(
        pins.unlock,
        user_id=profile.user_id,
        # One SMS per unlock that cleared something; a second call clears nothing.
        dedupe_key=f"pin_unlocked:{profile.user_id}:{uuid.uuid4().hex}",
    )
    if unlocked:
        log.info(
            "admin PIN unlock",
            extra={"user_id": profile.user_id, "request_id": runtime.audit.request_id},
        )
    else:  # nothing committed: the row written after the answer says so
        runtime.audit.detail["unlocked"] = False
    return UnlockOut(unlocked=unlocked)


@router.get(
    "/ledger/check",
    summary="Recompute the ledger's invariants",
)
async def ledger_check(runtime: AdminRuntime) -> LedgerCheckOut:
    """Sum of all legs and of all balances, overdrawn accounts, balances that are not the
    sum of their legs, unbalanced journal transactions: all 0 when the ledger is sound.
    A full scan of the journal: for operators and schedules, not for every request."""
    check = await runtime.run(statements.check_ledger)
    if not check.sound:
        log.error("ledger check failed", extra=asdict(check))
    return LedgerCheckOut(sound=check.sound, **asdict(check))


@router.get(
    "/reconciliation",
    summary="The latest reconciliation of the ledger against Stellar",
    responses={404: {"model": ErrorOut, "description": "no reconciliation has run yet"}},
)
async def latest_reconciliation(runtime: AdminRuntime) -> ReconciliationOut:
    """Every active wallet and the treasury compared with their Stellar accounts: the
    worker runs it every RECONCILIATION_INTERVAL_S, `make -C Backend reconcile` on demand.
    Differences explained by movements not yet settled are listed, not counted as drift."""
    stored = await runtime.run(reconciliation.latest)
    if stored is None:
        raise NotFound("no reconciliation has run yet")
    return ReconciliationOut.of(stored)


_CURSOR = "s"  # the settlements list's cursors


def _stellar(settings: Settings) -> Horizon | None:
    """The network a retry asks about the refused envelope (None: custody is off)."""
    return Horizon.from_settings(settings) if settings.stellar_horizon_url else None


@router.get(
    "/settlements",
    summary="Settlements on Stellar that are parked, pending or in flight",
)
async def list_settlements(
    runtime: AdminRuntime,
    status_: Annotated[
        Literal["failed", "pending", "submitted"],
        Query(
            alias="status",
            description="failed: refused by the network, parked for an operator (the"
            " default); pending: waiting for the settler; submitted: with the network",
        ),
    ] = "failed",
    limit: Annotated[int, Query(ge=1, le=settlement_admin.PAGE_MAX)] = 50,
    cursor: Annotated[
        str | None, Query(max_length=40, description="`next_cursor` of the previous page")
    ] = None,
) -> SettlementPageOut:
    """In journal order, oldest first: the settler settles in that order, and a parked
    movement holds back the later movements of the wallets it touches, so the oldest is
    the one to fix first. Cursor-paginated: pass `next_cursor` back as `cursor` until it
    is null (movements parked meanwhile appear on later pages)."""
    after = decode_cursor(_CURSOR, cursor)
    rows, more = await runtime.run(
        settlement_admin.unsettled, status=status_, limit=limit, after=after
    )
    return SettlementPageOut(
        items=[SettlementItemOut.of(row) for row in rows],
        next_cursor=encode_cursor(_CURSOR, rows[-1].transaction_id) if more and rows else None,
    )


@router.post(
    "/settlements/{transaction_id}/retry",
    summary="Send a parked settlement to Stellar again",
    responses={
        404: {
            "model": ErrorOut,
            "description": "no such journal transaction, or one that moves nothing on-chain",
        },
        409: {
            "model": ErrorOut,
            "description": "`not_retryable`: it is submitted or settled (only a failed one"
            " can be retried), or the network has not yet shown that its refused envelope"
            " can never apply",
        },
        503: {"model": ErrorOut, "description": "the Stellar network cannot be asked now"},
    },
)
async def retry_settlement(
    transaction_id: TransactionId, runtime: AdminRuntime
) -> SettlementRetryOut:
    """Once the cause of the refusal is fixed (see `last_error`), put a failed settlement
    back to pending: the settler plans it again in journal order and signs a new envelope
    for it (the refused one moved nothing: see docs/stellar.md). Retrying one that is
    pending already answers its state with `"retried": false`."""
    state, retried = await runtime.run(
        settlement_admin.retry, _stellar(runtime.settings), transaction_id=transaction_id
    )
    if retried:
        log.info(
            "admin settlement retry",
            extra={
                "transaction_id": transaction_id,
                "last_error": state.last_error,
                "request_id": runtime.audit.request_id,
            },
        )
    return SettlementRetryOut.of(state, retried=retried)
