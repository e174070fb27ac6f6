"""Pledge reminders: an SMS two days before a pledge is due and one on the day.

The worker calls this every few minutes; each reminder is queued once, whichever
worker and whichever run gets there first (the outbox's dedupe key). Only pledges
still to pay, of campaigns still taking money, are reminded.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.db.repositories.pledges import reminder_key
from app.db.unit_of_work import UnitOfWork
from app.domain.money import format_kes, nairobi_day
from app.services.notifications import queue_sms

DAYS_BEFORE = 2
BATCH = 500


def queue_reminders(uow: UnitOfWork, *, shortcode: str, now: datetime | None = None) -> int:
    """Queue today's reminders (due in two days, due today) not queued yet; commits
    per batch. Returns how many were queued; raises ServiceUnavailable."""
    today = nairobi_day(now or datetime.now(UTC))
    soon = today + timedelta(days=DAYS_BEFORE)
    queued = 0
    while True:
        with uow:
            due = uow.pledges.due_for_reminder(today, soon, BATCH)
            for pledge in due:
                when = "today" if pledge.due_date == today else "soon"
                queue_sms(
                    uow,
                    to=pledge.phone,
                    template=f"harambee_reminder_{when}",
                    language=pledge.language,
                    dedupe_key=reminder_key(pledge.id, pledge.due_date, when),
                    code=pledge.campaign_code,
                    title=pledge.campaign_title,
                    left=format_kes(pledge.left),
                    due=pledge.due_date.strftime("%d/%m/%y"),
                    shortcode=shortcode,
                )
            uow.commit()
        queued += len(due)
        if len(due) < BATCH:
            return queued
