"""The admin audit trail: who did what to which target, when, from where, and how it ended.

Every admin request gets one `AuditEntry`. An action's entry is written by the commit
that makes its effect (`AuditedUnitOfWork`): the effect and its row commit together or
not at all. A request that committed nothing (a read, a refusal, an action that found
nothing to do) is written afterwards by `record`, in a transaction of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.db.pool import Database
from app.db.repositories.admin_audit import AuditFilter, AuditRow
from app.db.unit_of_work import UnitOfWork

OUTCOMES = ("done", "refused", "failed")
PAGE_MAX = 200
REASON_MAX = 200
TARGET_MAX = 128


@dataclass
class AuditEntry:
    """One admin request's row, filled in as the request is understood."""

    actor: str
    action: str
    client_address: str
    request_id: str
    target_kind: str | None = None
    target_id: str | None = None
    reason: str | None = None
    # Plain values only, never a secret (no token, PIN, code or key).
    detail: dict[str, object] = field(default_factory=dict)
    # The id of its row once written: a request is recorded once.
    recorded_id: int | None = None

    def target(self, kind: str, target_id: object) -> None:
        self.target_kind, self.target_id = kind, str(target_id)[:TARGET_MAX]


def _insert(uow: UnitOfWork, entry: AuditEntry, outcome: str) -> int:
    """Raises AuditUnavailable when PostgreSQL refuses the row."""
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}")
    return uow.admin_audit.insert(
        actor=entry.actor,
        action=entry.action,
        target_kind=entry.target_kind,
        target_id=entry.target_id,
        reason=entry.reason[:REASON_MAX] if entry.reason else None,
        client_address=entry.client_address[:100],
        request_id=entry.request_id,
        outcome=outcome,
        detail=entry.detail,
    )


class AuditedUnitOfWork(UnitOfWork):
    """A unit of work whose first commit also writes its admin request's row ('done').

    Services take it as any unit of work; an admin action therefore cannot commit its
    effect without its audit row (if the row cannot be written, nothing commits).
    """

    def __init__(self, database: Database, entry: AuditEntry) -> None:
        super().__init__(database)
        self._entry = entry

    def commit(self) -> None:
        if self._entry.recorded_id is not None:
            super().commit()
            return
        # Marks the rows written in the transaction of the action itself.
        self._entry.detail["committed_with_action"] = True
        row_id = _insert(self, self._entry, "done")
        super().commit()
        self._entry.recorded_id = row_id


def record(uow: UnitOfWork, entry: AuditEntry, outcome: str) -> int | None:
    """Write the entry's row in its own transaction unless its action's commit wrote it
    already; commits and returns the row id (None when it was written before). Raises
    ServiceUnavailable."""
    if entry.recorded_id is not None:
        return None
    with uow:
        row_id = _insert(uow, entry, outcome)
        uow.commit()
    entry.recorded_id = row_id
    return row_id


def page(
    uow: UnitOfWork, where: AuditFilter, *, limit: int, before_id: int | None = None
) -> tuple[list[AuditRow], bool]:
    """One page of the trail, newest first, older than `before_id`, and whether more
    follow. Raises ValueError for a limit out of range, ServiceUnavailable."""
    if not 1 <= limit <= PAGE_MAX:
        raise ValueError(f"limit must be 1..{PAGE_MAX}")
    with uow:
        rows = uow.admin_audit.page(where, limit + 1, before_id)
    return rows[:limit], len(rows) > limit
