"""Queue SMS through the transactional outbox, in the caller's transaction.

The outbox row is written in the same unit of work as the change it confirms;
the worker sends it later through Africa's Talking. Payload shape, relied on by
the worker: {"to": E.164 phone, "message": text, "template": name}.
"""

from __future__ import annotations

from app.db.unit_of_work import UnitOfWork
from app.services.sms_texts import render_sms


def queue_sms(
    uow: UnitOfWork,
    *,
    to: str,
    template: str,
    language: str,
    dedupe_key: str,
    **params: object,
) -> int | None:
    """Add an SMS to the outbox once per dedupe_key; returns the outbox id or None."""
    message = render_sms(template, language, **params)
    return uow.outbox.add(
        kind="sms",
        payload={"to": to, "message": message, "template": template},
        dedupe_key=dedupe_key,
    )
