"""Every inbound callback stored as it arrived, before anything acts on it.

`receive` commits the raw callback with whether its token matched, so a callback
whose processing fails - or whose process dies - is still there for an operator
(`GET /api/v1/admin/callbacks`) and, for M-Pesa's, for the worker to process again.
"""

from __future__ import annotations

from app.db.repositories.callbacks import RECEIVED, InboundCallback
from app.db.unit_of_work import UnitOfWork

REJECTED = "rejected"
PAGE_MAX = 100


def readable(body: bytes) -> str:
    """The body as text PostgreSQL can keep: undecodable bytes and NULs replaced."""
    return body.decode("utf-8", errors="replace").replace("\x00", "\ufffd")


def receive(
    uow: UnitOfWork,
    *,
    provider: str,
    kind: str,
    path: str,
    query: str | None,
    content_type: str | None,
    body: bytes,
    verification: str,
) -> int:
    """Store a callback as it arrived (refused at once when its token did not match);
    commits and returns its id. Raises ServiceUnavailable."""
    refused = verification == "token_mismatch"
    with uow:
        callback_id = uow.callbacks.record(
            provider=provider,
            kind=kind,
            path=path,
            query=query,
            content_type=content_type,
            body=readable(body),
            verification=verification,
            outcome=REJECTED if refused else RECEIVED,
            detail="wrong callback token" if refused else None,
        )
        uow.commit()
    return callback_id


def record_outcome(
    uow: UnitOfWork,
    callback_id: int,
    outcome: str,
    detail: str | None,
    reference: str | None = None,
) -> None:
    """What processing made of a callback that no money service recorded; commits."""
    with uow:
        uow.callbacks.set_outcome(callback_id, outcome, detail, reference=reference)
        uow.commit()


def page(
    uow: UnitOfWork,
    *,
    limit: int,
    before_id: int | None = None,
    provider: str | None = None,
    outcome: str | None = None,
    reference: str | None = None,
) -> tuple[list[InboundCallback], bool]:
    """One page of callbacks, newest first, and whether older ones match too. Raises
    ValueError for a limit outside 1..100, ServiceUnavailable."""
    if not 1 <= limit <= PAGE_MAX:
        raise ValueError(f"limit must be 1..{PAGE_MAX}")
    with uow:
        found = uow.callbacks.page(
            limit=limit + 1,
            before_id=before_id,
            provider=provider,
            outcome=outcome,
            reference=reference,
        )
    return found[:limit], len(found) > limit
