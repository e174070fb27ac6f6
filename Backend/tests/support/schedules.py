"""Scheduled payments as the tests read them back: occurrences, their payments, SMS."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from app.db.pool import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.money import NAIROBI
from app.services.schedules import manage


def eat(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A Nairobi wall-clock instant."""
    return datetime(year, month, day, hour, minute, tzinfo=NAIROBI)


def schedule_transfer(
    database: Database,
    *,
    owner: int,
    to: str,
    amount: int,
    frequency: str,
    day: int,
    at: time,
    start: date,
    now: datetime,
    until: date | None = None,
    count: int | None = None,
    key: str | None = None,
) -> int:
    """A transfer schedule created through the real service; returns its id."""
    created = manage.create(
        UnitOfWork(database),
        manage.NewSchedule(
            owner_user_id=owner,
            kind="transfer",
            payee=to,
            amount=amount,
            frequency=frequency,
            day=day,
            at_time=at,
            start_date=start,
            idempotency_key=key or f"test:{owner}:{to}:{frequency}:{day}",
            channel="api",
            until_date=until,
            count=count,
        ),
        now,
    )
    return created.schedule.id


@dataclass(frozen=True)
class OccurrenceSeen:
    id: int
    due_at: datetime
    status: str
    attempts: int
    reason: str | None
    transaction_id: int | None
    amount: int | None  # the journal transaction's amount


def occurrences(database: Database, schedule_id: int) -> list[OccurrenceSeen]:
    """The schedule's occurrences in order, with their payments' amounts."""
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(
            """
            SELECT o.id, o.due_at, o.status, o.attempts, o.reason, o.transaction_id, j.amount
            FROM scheduled_occurrences o
            LEFT JOIN journal_transactions j ON j.id = o.transaction_id
            WHERE o.schedule_id = %s ORDER BY o.due_at
            """,
            (schedule_id,),
        )
        rows = cur.fetchall()
        conn.rollback()
    return [OccurrenceSeen(*row) for row in rows]


def scheduled_payment_keys(database: Database) -> list[str]:
    """The idempotency keys of every journal transaction a schedule made."""
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT idempotency_key FROM journal_transactions"
            " WHERE idempotency_key LIKE 'transfer:%%:schedule:%%'"
        )
        keys = [row[0] for row in cur.fetchall()]
        conn.rollback()
    return keys


def sms_keys(database: Database, prefix: str) -> list[str]:
    """The outbox dedupe keys of the SMS whose keys start with prefix."""
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT dedupe_key FROM outbox WHERE kind = 'sms' AND dedupe_key LIKE %s ORDER BY id",
            (prefix + "%",),
        )
        keys = [row[0] for row in cur.fetchall()]
        conn.rollback()
    return keys


def schedule_status(database: Database, schedule_id: int) -> tuple[str, int]:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT status, consecutive_skips FROM scheduled_payments WHERE id = %s",
            (schedule_id,),
        )
        found = cur.fetchone()
        conn.rollback()
    return found
