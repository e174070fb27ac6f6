"""The admin API's merchants: onboard, list, read, issue or revoke their API keys, and
pay a merchant's balance out to its M-Pesa.

Same conventions as app/api/admin.py: ADMIN_TOKEN as a bearer token, every request in
the audit trail (an action's row committed with it), cursor paging, `{"error",
"detail"}` failures. A key's secret is in one answer only, never in the trail or a log.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import Path, Query, Response, status
from fastapi.responses import JSONResponse

from app.api import admin_trail
from app.api.admin_auth import AdminRuntime, admin_router
from app.api.admin_merchant_models import (
    IssuedKeyOut,
    KeyOut,
    MerchantDetailOut,
    MerchantIn,
    MerchantOut,
    MerchantPageOut,
    MerchantPatch,
    MerchantStatusOut,
)
from app.api.admin_models import ErrorOut
from app.api.cursors import MAX_ID, decode_cursor, encode_cursor
from app.api.merchant.idempotency import MerchantIdempotencyKey
from app.api.merchant.payouts import PayoutIn, PayoutOut
from app.domain.merchants import FeeRule
from app.errors import NotFound
from app.services import merchant_keys, merchants
from app.services.custody import SecretBox
from app.services.mpesa import merchant_payouts

log = logging.getLogger("paytrace.admin")

router = admin_router(r400="the body is not JSON text (e.g. not UTF-8)")

_CURSOR = "m"  # the merchants list's cursors
MerchantId = Annotated[int, Path(ge=1, le=MAX_ID, examples=[7])]
KeyId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_]+$",
        examples=["mk_live_3f9a0c1d2e4b5a6978c0d1e2"],
    ),
]


def _errors(*codes: int) -> dict[int | str, dict[str, object]]:
    return {code: {"model": ErrorOut} for code in codes}


@router.post(
    "/merchants",
    summary="Onboard a merchant",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": MerchantOut, "description": "the same request again (replayed)"},
        409: {"model": ErrorOut, "description": "`till_taken`: another merchant has the till"},
    },
)
async def onboard_merchant(
    body: MerchantIn, response: Response, runtime: AdminRuntime
) -> MerchantOut:
    """A merchant and its ledger account. The till number is the natural idempotency key:
    the same request again answers 200 with the merchant; anything else naming the till
    is 409 `till_taken`. Bad fields are 422 with `invalid_till`, `invalid_display_name`,
    `invalid_legal_name`, `invalid_phone`, `invalid_payout_schedule`, `invalid_fee` or
    `invalid_language`."""
    # The trail's row is written by the commit that creates the merchant: what it
    # records is set before the service runs.
    runtime.audit.target("till", admin_trail.storable(body.till_number[:20]))
    application = merchants.Application(
        legal_name=body.legal_name,
        display_name=body.display_name,
        till_number=body.till_number,
        contact_phone=body.contact_phone,
        payout_phone=body.payout_phone,
        payout_schedule=body.payout_schedule,
        fee=FeeRule(body.fee_bps, body.fee_min_cents, body.fee_max_cents),
        language=body.language,
    )
    done = await runtime.run(merchants.onboard, application)
    if done.replayed:
        response.status_code = status.HTTP_200_OK
    else:
        log.info(
            "merchant onboarded",
            extra={"merchant_id": done.merchant.id, "request_id": runtime.audit.request_id},
        )
    return MerchantOut.of(done.merchant)


@router.get("/merchants", summary="Merchants, newest first")
async def list_merchants(
    runtime: AdminRuntime,
    merchant_status: Annotated[Literal["active", "suspended"] | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=merchants.PAGE_MAX)] = 50,
    cursor: Annotated[
        str | None, Query(max_length=40, description="`next_cursor` of the previous page")
    ] = None,
) -> MerchantPageOut:
    """Cursor-paginated: pass `next_cursor` back as `cursor` until it is null."""
    before = decode_cursor(_CURSOR, cursor)
    rows, more = await runtime.run(
        merchants.page, limit=limit, before_id=before, status=merchant_status
    )
    return MerchantPageOut(
        items=[MerchantOut.of(row) for row in rows],
        next_cursor=encode_cursor(_CURSOR, rows[-1].id) if more and rows else None,
    )


@router.get(
    "/merchants/{merchant_id}", summary="A merchant and its API keys", responses=_errors(404)
)
async def get_merchant(merchant_id: MerchantId, runtime: AdminRuntime) -> MerchantDetailOut:
    """The merchant, its balance (cents) and its keys (ids and dates, never a secret)."""
    found = await runtime.run(merchants.detail, merchant_id)
    if found is None:
        raise NotFound("no such merchant")
    return MerchantDetailOut.of_detail(found)


@router.post(
    "/merchants/{merchant_id}/keys",
    summary="Issue an API key (its secret is shown once)",
    status_code=status.HTTP_201_CREATED,
    responses={
        **_errors(404),
        409: {"model": ErrorOut, "description": "`too_many_keys`: two live keys already"},
    },
)
async def issue_merchant_key(
    merchant_id: MerchantId, response: Response, runtime: AdminRuntime
) -> IssuedKeyOut:
    """A new live key. The answer is the only place its secret ever appears: hand it to
    the merchant over a safe channel. At most two keys are live at a time, so a key can
    be rotated without downtime (issue, switch, revoke the old). Not idempotent: if the
    answer is lost, revoke the key it made (listed by GET /merchants/{id})."""
    box = SecretBox.from_settings(runtime.settings)
    key_id = merchant_keys.new_key_id()
    runtime.audit.detail["key_id"] = key_id  # the id, never the secret; before the commit
    issued = await runtime.run(merchant_keys.issue_key, box, merchant_id, key_id)
    response.headers["Cache-Control"] = "no-store"
    log.info(
        "merchant key issued",
        extra={
            "merchant_id": merchant_id,
            "key_id": issued.key.key_id,
            "request_id": runtime.audit.request_id,
        },
    )
    return IssuedKeyOut.issued(issued)


@router.post(
    "/merchants/{merchant_id}/keys/{key_id}/revoke",
    summary="Revoke an API key for good",
    responses=_errors(404),
)
async def revoke_merchant_key(
    merchant_id: MerchantId, key_id: KeyId, runtime: AdminRuntime
) -> KeyOut:
    """The key signs nothing from now on (the next request signed with it is 401).
    Revoking a revoked key answers it unchanged."""
    key = await runtime.run(merchant_keys.revoke_key, merchant_id, key_id, datetime.now(UTC))
    log.info(
        "merchant key revoked",
        extra={
            "merchant_id": merchant_id,
            "key_id": key_id,
            "request_id": runtime.audit.request_id,
        },
    )
    return KeyOut.of(key)


@router.patch(
    "/merchants/{merchant_id}",
    summary="Change a merchant's names, phones, payouts, fee or language",
    responses=_errors(404),
)
async def update_merchant(
    merchant_id: MerchantId, body: MerchantPatch, runtime: AdminRuntime
) -> MerchantOut:
    """Only the fields sent change, each checked as at onboarding (the same 422 codes;
    `nothing_to_change` for an empty body). A fee given in part keeps the rest of the
    current rule. `payout_keep_cents` and `payout_threshold_cents` (cents, 0 to
    10^12; `invalid_payout_keep`, `invalid_payout_threshold`) shape the daily payout.
    The till never changes. Send `X-Audit-Reason`."""
    runtime.audit.target("merchant", str(merchant_id))
    sent = body.model_dump(exclude_none=True)
    runtime.audit.detail["fields"] = sorted(sent)
    # The service merges a fee sent in part with the current rule under the row's lock.
    changes = merchants.Changes(**sent)
    return MerchantOut.of(await runtime.run(merchants.update, merchant_id, changes))


async def _set_status(merchant_id: int, runtime: AdminRuntime, to: str) -> MerchantStatusOut:
    runtime.audit.target("merchant", str(merchant_id))
    merchant, changed = await runtime.run(merchants.set_status, merchant_id, to)
    if changed:
        log.info(
            "merchant status changed",
            extra={
                "merchant_id": merchant_id,
                "status": to,
                "request_id": runtime.audit.request_id,
            },
        )
    else:
        runtime.audit.detail["changed"] = False
    return MerchantStatusOut(merchant=MerchantOut.of(merchant), changed=changed)


@router.post(
    "/merchants/{merchant_id}/suspend",
    summary="Suspend a merchant: its requests and payments to its till are refused",
    responses=_errors(404),
)
async def suspend_merchant(merchant_id: MerchantId, runtime: AdminRuntime) -> MerchantStatusOut:
    """From the next request on, its signatures answer 401 and payers are told the till
    is unavailable; its money stays in its account. Suspending again changes nothing.
    Send `X-Audit-Reason`."""
    return await _set_status(merchant_id, runtime, "suspended")


@router.post(
    "/merchants/{merchant_id}/reactivate",
    summary="Reactivate a suspended merchant",
    responses=_errors(404),
)
async def reactivate_merchant(merchant_id: MerchantId, runtime: AdminRuntime) -> MerchantStatusOut:
    """Its keys sign again and its till takes payments. Reactivating an active merchant
    changes nothing."""
    return await _set_status(merchant_id, runtime, "active")


@router.post(
    "/merchants/{merchant_id}/payouts",
    summary="Pay a merchant's balance out to its M-Pesa",
    status_code=status.HTTP_201_CREATED,
    response_model=None,
    responses={
        201: {"model": PayoutOut, "description": "the payout, pending"},
        **_errors(404),
        409: {
            "model": ErrorOut,
            "description": "`insufficient_merchant_balance`, `nothing_to_pay_out`,"
            " `idempotency_key_reused`",
        },
    },
)
async def pay_out_merchant(
    merchant_id: MerchantId, body: PayoutIn, key: MerchantIdempotencyKey, runtime: AdminRuntime
) -> JSONResponse:
    """As the merchant's own `POST /api/v1/merchant/payouts` (an amount in cents, or
    `all`), asked by an operator: held at once, paid to the merchant's payout phone on
    M-Pesa's confirmed word. The Idempotency-Key is scoped apart from the merchant's own
    keys. Send `X-Audit-Reason`."""
    runtime.audit.target("merchant", str(merchant_id))
    runtime.audit.detail["amount"] = body.amount
    answer = await runtime.run(
        merchant_payouts.request_payout,
        merchant_id,
        key,
        None if body.amount == "all" else body.amount,
        result_wait_s=runtime.settings.mpesa_result_wait_s,
        now=datetime.now(UTC),
        origin="admin",
    )
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
    return JSONResponse(answer.body, status_code=answer.status, headers=headers)
