"""Scheduled payments and their occurrences as stored: plain records the repository
builds, services return and channels render (see app/domain/records/__init__.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from app.domain.schedules import Recurrence

ACTIVE, PAUSED, STOPPED, FINISHED = "active", "paused", "stopped", "finished"
DUE, RETRYING, PAID, SKIPPED = "due", "retrying", "paid", "skipped"
OPEN = (DUE, RETRYING)


@dataclass(frozen=True, slots=True)
class Schedule:
    id: int
    owner_user_id: int
    kind: str  # transfer | bill | airtime (payee "<biller code>:<account>")
    payee: str  # as the kind reads it; transfer: the recipient's E.164 phone
    payee_name: str
    amount: int  # cents
    note: str | None
    frequency: str
    day: int
    at_time: time
    start_date: date
    until_date: date | None
    max_count: int | None
    status: str
    consecutive_skips: int
    next_due_at: datetime | None
    reminded_for: datetime | None
    channel: str
    request_hash: str
    created_at: datetime
    paused_at: datetime | None
    stopped_at: datetime | None
    finished_at: datetime | None

    @property
    def rule(self) -> Recurrence:
        return Recurrence(
            self.frequency,
            self.day,
            self.at_time,
            self.start_date,
            until=self.until_date,
            count=self.max_count,
        )


@dataclass(frozen=True, slots=True)
class Occurrence:
    id: int
    schedule_id: int
    due_at: datetime
    status: str
    attempts: int
    next_attempt_at: datetime
    transaction_id: int | None
    reason: str | None
    created_at: datetime
    paid_at: datetime | None
    skipped_at: datetime | None
    reference: str | None  # the journal reference when paid


@dataclass(frozen=True, slots=True)
class ScheduleWithOccurrences:
    schedule: Schedule
    occurrences: list[Occurrence]  # newest first
