"""The admin API's view of inbound callbacks: `GET /api/v1/admin/callbacks`.

Every callback that reached PayTrace (M-Pesa's results, Africa's Talking's delivery
reports) is stored as it arrived, refused ones included, with its verification and
what processing made of it: an operator reads here what M-Pesa actually said. Same
conventions as app/api/admin.py: ADMIN_TOKEN as a bearer token, cursor pagination,
`{"error", "detail"}` failures.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Self

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

from app.api.admin_auth import AdminRuntime, admin_router
from app.api.cursors import decode_cursor, encode_cursor
from app.domain.records.admin import InboundCallback
from app.services import inbound_callbacks

_CURSOR = "c"  # this list's cursors

router = admin_router()

EXAMPLE = {
    "id": 812,
    "provider": "mpesa",
    "kind": "stk",
    "path": "/callbacks/mpesa/stk/***",
    "query": "deposit=K7QX2M9PLA",
    "content_type": "application/json",
    "body": '{"Body": {"stkCallback": {"MerchantRequestID": "29115-34620561-1", '
    '"CheckoutRequestID": "ws_CO_29112026052450059712345678", "ResultCode": 1032, '
    '"ResultDesc": "Request cancelled by user"}}}',
    "verification": "token_matched",
    "reference": "ws_CO_29112026052450059712345678",
    "outcome": "failed",
    "detail": "ResultCode 1032",
    "received_at": "2026-11-29T05:24:51.204+00:00",
    "processed_at": "2026-11-29T05:24:51.219+00:00",
}


class CallbackOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    id: int
    provider: Literal["mpesa", "at"]
    kind: str = Field(
        description="stk | b2c_result | b2c_timeout | status_result | status_timeout"
        " (M-Pesa); sms_delivery (AT)"
    )
    path: str = Field(description="the request path, its secret token masked (***)")
    query: str | None = Field(description="the query string, e.g. the deposit it names")
    content_type: str | None
    body: str = Field(description="the body as received (bytes that are not UTF-8 replaced)")
    verification: Literal["token_matched", "token_mismatch", "no_token"] = Field(
        description="whether its secret token matched (no_token: none is configured)"
    )
    reference: str | None = Field(
        description="what it names once read: CheckoutRequestID, OriginatorConversationID"
        " or AT's message id"
    )
    outcome: str = Field(
        description="received (not processed yet), rejected (wrong token), malformed, or what"
        " processing did: credited, failed, duplicate, unknown_request, amount_mismatch,"
        " phone_mismatch, paid, released, released_not_found, check_scheduled, not_found,"
        " paid_after_release, conflict, error; for AT the message's status"
    )
    detail: str | None
    received_at: datetime
    processed_at: datetime | None

    @classmethod
    def of(cls, callback: InboundCallback) -> Self:
        return cls(
            id=callback.id,
            provider=callback.provider,
            kind=callback.kind,
            path=callback.path,
            query=callback.query,
            content_type=callback.content_type,
            body=callback.body,
            verification=callback.verification,
            reference=callback.reference,
            outcome=callback.outcome,
            detail=callback.detail,
            received_at=callback.received_at,
            processed_at=callback.processed_at,
        )


class CallbackPageOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [EXAMPLE], "next_cursor": "Yzo4MTI"}]}
    )

    items: list[CallbackOut] = Field(description="newest first")
    next_cursor: str | None = Field(description="pass as `cursor` for the next (older) page")


@router.get("/callbacks", summary="Inbound callbacks as they arrived, newest first")
async def list_callbacks(
    runtime: AdminRuntime,
    provider: Annotated[Literal["mpesa", "at"] | None, Query()] = None,
    outcome: Annotated[
        str | None,
        Query(
            max_length=40,
            pattern=r"^[a-z_]+$",
            description="one outcome only, e.g. received, unknown_request, amount_mismatch",
        ),
    ] = None,
    reference: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            pattern=r"^[\x21-\x7e]+$",
            description="a CheckoutRequestID, an OriginatorConversationID or AT's message id",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=inbound_callbacks.PAGE_MAX)] = 50,
    cursor: Annotated[
        str | None, Query(max_length=40, description="`next_cursor` of the previous page")
    ] = None,
) -> CallbackPageOut:
    """Every callback that reached PayTrace, stored before it was acted on - refused and
    malformed ones included - with its request path (token masked), raw body,
    verification and outcome. Cursor-paginated: pass `next_cursor` back as `cursor`
    until it is null."""
    before = decode_cursor(_CURSOR, cursor)
    rows, more = await runtime.run(
        inbound_callbacks.page,
        limit=limit,
        before_id=before,
        provider=provider,
        outcome=outcome,
        reference=reference,
    )
    return CallbackPageOut(
        items=[CallbackOut.of(row) for row in rows],
        next_cursor=encode_cursor(_CURSOR, rows[-1].id) if more and rows else None,
    )
