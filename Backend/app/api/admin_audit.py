"""The admin audit trail, read back: `GET /api/v1/admin/audit`.

Every request to the admin API left one row (app/api/admin_trail.py): reads, actions
and refusals. Reading the trail is itself an admin request, and leaves its own row.
Same conventions as app/api/admin.py: ADMIN_TOKEN as a bearer token, cursor
pagination, `{"error", "detail"}` failures.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal, Self

from fastapi import Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from app.api.admin_auth import AdminRuntime, admin_router
from app.api.cursors import decode_cursor, encode_cursor
from app.domain.records.admin import AuditFilter, AuditRow
from app.errors import refused
from app.services import admin_audit

_CURSOR = "a"  # this list's cursors
_NAME = r"^[a-z][a-z0-9_]*$"

router = admin_router()

EXAMPLE = {
    "id": 1207,
    "at": "2026-12-04T09:14:03.512+00:00",
    "actor": "token:3f9a2c81d4e0",
    "action": "reverse",
    "target_kind": "transaction",
    "target_id": "43",
    "reason": "sent to the wrong number, caller verified",
    "client_address": "10.0.4.17",
    "request_id": "9b2f6c1e0d7a4e5f8a3b2c1d0e9f8a7b",
    "outcome": "done",
    "detail": {"method": "POST", "committed_with_action": True},
}


class AuditRowOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    id: int
    at: datetime = Field(description="when the row was written")
    actor: str = Field(
        description="`token:` and a fingerprint of the admin token used (never the token);"
        " `operator:<id>` for an operator of the console (docs/console.md);"
        " `anonymous` when no valid token or session was shown"
    )
    action: str = Field(description="the admin route's operation, e.g. reverse, get_user")
    target_kind: str | None = Field(description="user | transaction | ...")
    target_id: str | None = Field(description="a user's E.164 phone, a transaction id, ...")
    reason: str | None = Field(description="the reversal's reason, or X-Audit-Reason")
    client_address: str
    request_id: str = Field(description="the X-Request-ID answered to the request")
    outcome: Literal["done", "refused", "failed"] = Field(
        description="done: answered 2xx; refused: 4xx; failed: 5xx (nothing committed)"
    )
    detail: dict[str, object] = Field(
        description="method, query, status, error code, the action's own values;"
        ' `"committed_with_action": true` marks a row written by the commit of the action'
        " itself (in one transaction with its effect)"
    )

    @classmethod
    def of(cls, row: AuditRow) -> Self:
        return cls(
            id=row.id,
            at=row.at,
            actor=row.actor,
            action=row.action,
            target_kind=row.target_kind,
            target_id=row.target_id,
            reason=row.reason,
            client_address=row.client_address,
            request_id=row.request_id,
            outcome=row.outcome,
            detail=row.detail,
        )


class AuditPageOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [EXAMPLE], "next_cursor": "YToxMjA3"}]}
    )

    items: list[AuditRowOut] = Field(description="newest first")
    next_cursor: str | None = Field(description="pass as `cursor` for the next (older) page")


def _utc(value: datetime | None, name: str) -> datetime | None:
    """In UTC: PostgreSQL takes offsets up to 15:59 only, Python up to 23:59. Raises
    ValidationFailed ('invalid_date') for a time that has no UTC date (before year 1)."""
    if value is None:
        return None
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise refused("invalid_date", f"{name} is out of range") from None


Text = Annotated[str | None, Query(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")]


@router.get("/audit", summary="The admin audit trail, newest first")
async def list_audit(
    runtime: AdminRuntime,
    actor: Annotated[
        str | None, Query(max_length=64, pattern=r"^[a-z]+(:[0-9a-f]{1,32})?$")
    ] = None,
    action: Annotated[str | None, Query(max_length=64, pattern=_NAME)] = None,
    target_kind: Annotated[str | None, Query(max_length=32, pattern=_NAME)] = None,
    target_id: Text = None,
    outcome: Literal["done", "refused", "failed"] | None = None,
    since: Annotated[AwareDatetime | None, Query(description="from (inclusive)")] = None,
    until: Annotated[AwareDatetime | None, Query(description="to (exclusive)")] = None,
    limit: Annotated[int, Query(ge=1, le=admin_audit.PAGE_MAX)] = 50,
    cursor: Annotated[
        str | None, Query(max_length=40, description="`next_cursor` of the previous page")
    ] = None,
) -> AuditPageOut:
    """Who did what to which target, when, from where, and how it ended: every admin
    request, refused ones included. Filters combine (all must match); dates are ISO 8601
    with a time zone. Cursor-paginated: pass `next_cursor` back as `cursor` until null."""
    before = decode_cursor(_CURSOR, cursor)
    where = AuditFilter(
        actor=actor,
        action=action,
        target_kind=target_kind,
        target_id=target_id,
        outcome=outcome,
        since=_utc(since, "since"),
        until=_utc(until, "until"),
    )
    rows, more = await runtime.run(admin_audit.page, where, limit=limit, before_id=before)
    return AuditPageOut(
        items=[AuditRowOut.of(row) for row in rows],
        next_cursor=encode_cursor(_CURSOR, rows[-1].id) if more and rows else None,
    )
