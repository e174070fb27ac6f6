"""The admin audit trail: rows are inserted and read, never changed (the database's
triggers refuse UPDATE, DELETE and TRUNCATE; see migration 0012)."""

from __future__ import annotations

import psycopg2
import psycopg2.extensions
from psycopg2.extras import Json

from app.domain.records.admin import AuditFilter, AuditRow
from app.errors import AuditUnavailable

_COLUMNS = """id, at, actor, action, target_kind, target_id, reason, client_address,
    request_id, outcome, detail"""


class AdminAuditRepository:
    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn

    def insert(
        self,
        *,
        actor: str,
        action: str,
        target_kind: str | None,
        target_id: str | None,
        reason: str | None,
        client_address: str,
        request_id: str,
        outcome: str,
        detail: dict[str, object],
    ) -> int:
        """Append one row; returns its id. Raises AuditUnavailable when PostgreSQL refuses
        it (whatever the cause: the action it records must not happen without it)."""
        try:
            return self._insert(
                actor=actor,
                action=action,
                target_kind=target_kind,
                target_id=target_id,
                reason=reason,
                client_address=client_address,
                request_id=request_id,
                outcome=outcome,
                detail=detail,
            )
        except psycopg2.DatabaseError as exc:
            raise AuditUnavailable("the admin audit trail cannot be written; retry") from exc

    def _insert(self, **row: object) -> int:
        with self._conn.cursor() as cur:
            cur.execute(
                """
                INSERT INTO admin_audit (actor, action, target_kind, target_id, reason,
                    client_address, request_id, outcome, detail)
                VALUES (%(actor)s, %(action)s, %(target_kind)s, %(target_id)s, %(reason)s,
                        %(client_address)s, %(request_id)s, %(outcome)s, %(detail)s)
                RETURNING id
                """,
                {**row, "detail": Json(row["detail"])},
            )
            return cur.fetchone()[0]

    def page(self, where: AuditFilter, limit: int, before_id: int | None) -> list[AuditRow]:
        """Up to `limit` rows matching `where`, newest first, older than `before_id`."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                SELECT {_COLUMNS} FROM admin_audit
                WHERE (%(before)s::bigint IS NULL OR id < %(before)s)
                  AND (%(actor)s::text IS NULL OR actor = %(actor)s)
                  AND (%(action)s::text IS NULL OR action = %(action)s)
                  AND (%(target_kind)s::text IS NULL OR target_kind = %(target_kind)s)
                  AND (%(target_id)s::text IS NULL OR target_id = %(target_id)s)
                  AND (%(outcome)s::text IS NULL OR outcome = %(outcome)s)
                  AND (%(since)s::timestamptz IS NULL OR at >= %(since)s)
                  AND (%(until)s::timestamptz IS NULL OR at < %(until)s)
                ORDER BY id DESC
                LIMIT %(limit)s
                """,
                {
                    "before": before_id,
                    "actor": where.actor,
                    "action": where.action,
                    "target_kind": where.target_kind,
                    "target_id": where.target_id,
                    "outcome": where.outcome,
                    "since": where.since,
                    "until": where.until,
                    "limit": limit,
                },
            )
            return [AuditRow(*row) for row in cur.fetchall()]
