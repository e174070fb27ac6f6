"""The SMS log: what PayTrace handed to Africa's Talking and what AT reported back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg2.extensions

_COLUMNS = (
    "id, outbox_id, recipient, provider_message_id, status, status_code, cost,"
    " network_code, failure_reason, updated_at"
)

# A delivery report may only move a message forward: a late 'Sent' never undoes
# 'delivered', and a repeated report changes nothing.
_MAY_BECOME = {
    "sent": ("submitted",),
    "delivered": ("submitted", "sent"),
    "failed": ("submitted", "sent"),
}


@dataclass(frozen=True)
class SmsMessage:
    id: int
    outbox_id: int
    recipient: str
    provider_message_id: str | None
    status: str
    status_code: int | None
    cost: str | None
    network_code: str | None
    failure_reason: str | None
    updated_at: datetime


class SmsRepository:
    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn

    def record_submission(
        self,
        *,
        outbox_id: int,
        recipient: str,
        status: str,
        provider_message_id: str | None,
        status_code: int | None,
        cost: str | None,
        failure_reason: str | None = None,
    ) -> None:
        """Record AT's answer to the one send of an outbox row (once per row)."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                INSERT INTO sms_messages (outbox_id, recipient, provider_message_id, status,
                                          status_code, cost, failure_reason)
                VALUES (%(outbox_id)s, %(recipient)s, %(message_id)s, %(status)s,
                        %(status_code)s, %(cost)s, %(reason)s)
                ON CONFLICT (outbox_id) DO NOTHING
                """,
                {
                    "outbox_id": outbox_id,
                    "recipient": recipient,
                    "message_id": provider_message_id,
                    "status": status,
                    "status_code": status_code,
                    "cost": cost,
                    "reason": failure_reason,
                },
            )

    def get_by_provider_id(self, provider_message_id: str) -> SmsMessage | None:
        """The message AT knows by this messageId, if any."""
        return self._one(
            f"SELECT {_COLUMNS} FROM sms_messages WHERE provider_message_id = %(mid)s",
            mid=provider_message_id,
        )

    def get_by_outbox_id(self, outbox_id: int) -> SmsMessage | None:
        """The message sent for an outbox row, if it was handed to AT."""
        return self._one(
            f"SELECT {_COLUMNS} FROM sms_messages WHERE outbox_id = %(oid)s", oid=outbox_id
        )

    def apply_delivery_report(
        self,
        provider_message_id: str,
        *,
        status: str,
        failure_reason: str | None,
        network_code: str | None,
    ) -> SmsMessage | None:
        """Move a message forward on a delivery report; None if the id is unknown.

        Returns the row as it stands afterwards (unchanged for a repeat or stale report).
        """
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                UPDATE sms_messages
                SET status = %(status)s, failure_reason = %(reason)s,
                    network_code = coalesce(%(network)s, network_code), updated_at = now()
                WHERE provider_message_id = %(mid)s AND status = ANY(%(from)s)
                RETURNING {_COLUMNS}
                """,
                {
                    "status": status,
                    "reason": failure_reason,
                    "network": network_code,
                    "mid": provider_message_id,
                    "from": list(_MAY_BECOME[status]),
                },
            )
            row = cur.fetchone()
        if row:
            return SmsMessage(*row)
        return self.get_by_provider_id(provider_message_id)

    def _one(self, sql: str, **params: object) -> SmsMessage | None:
        with self._conn.cursor() as cur:
            cur.execute(sql, params)
            row = cur.fetchone()
        return SmsMessage(*row) if row else None
