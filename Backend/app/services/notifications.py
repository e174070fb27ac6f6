"""Queue SMS through the transactional outbox, in the caller's transaction.

The outbox row is written in the same unit of work as the change it confirms;
the worker sends it later through Africa's Talking. Payload shape, relied on by
the worker: {"to": E.164 phone, "message": text, "template": name}, or "sealed"
(the text sealed with SmsSeal) in place of "message".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from app.db.repositories.outbox import OutboxMessage
from app.db.unit_of_work import UnitOfWork
from app.integrations.sms import SmsResult
from app.services.keys import SmsSeal
from app.services.sms_texts import render_sms


def journal_sms_key(reference: str, user_id: int) -> str:
    """The outbox dedupe key of the SMS a posted movement sends one of its parties: one
    SMS per (journal transaction, user), however often the movement is replayed."""
    return f"journal:{reference}:{user_id}"


def sms_message(
    *,
    to: str,
    template: str,
    language: str,
    dedupe_key: str,
    seal: SmsSeal | None = None,
    **params: object,
) -> OutboxMessage:
    """An SMS rendered in the recipient's language, ready for the outbox.

    With a seal, the payload carries the text sealed ("sealed") instead of readable
    ("message"): for a one-time code, which must not sit readable in the database.
    """
    text = render_sms(template, language, **params)
    body = {"sealed": seal.seal(text)} if seal is not None else {"message": text}
    return OutboxMessage(
        kind="sms",
        payload={"to": to, "template": template, **body},
        dedupe_key=dedupe_key,
    )


def queue_sms(
    uow: UnitOfWork,
    *,
    to: str,
    template: str,
    language: str,
    dedupe_key: str,
    seal: SmsSeal | None = None,
    **params: object,
) -> int | None:
    """Add an SMS to the outbox once per dedupe_key; returns the outbox id or None."""
    message = sms_message(
        to=to, template=template, language=language, dedupe_key=dedupe_key, seal=seal, **params
    )
    return uow.outbox.add(kind=message.kind, payload=message.payload, dedupe_key=message.dedupe_key)


log = logging.getLogger("paytrace.sms")


@dataclass(frozen=True)
class DeliveryReport:
    message_id: str  # AT's messageId
    status: str  # ours: delivered | failed | sent
    failure_reason: str | None
    network_code: str | None


def record_delivery_report(uow: UnitOfWork, report: DeliveryReport) -> str:
    """Apply AT's report to the SMS it names; returns its status, or 'ignored' if unknown.

    Idempotent and forward-only (a late 'sent' never undoes 'delivered'). Commits.
    """
    with uow:
        message = uow.sms.apply_delivery_report(
            report.message_id,
            status=report.status,
            failure_reason=report.failure_reason,
            network_code=report.network_code,
        )
        uow.commit()
    if message is None:
        log.warning(
            "delivery report for an unknown message ignored",
            extra={"provider_message_id": report.message_id, "status": report.status},
        )
        return "ignored"
    log.info(
        "sms delivery report",
        extra={"sms_id": message.id, "status": message.status, "reported": report.status},
    )
    return message.status


def record_submission(
    uow: UnitOfWork, *, outbox_id: int, recipient: str, result: SmsResult, accepted: bool
) -> None:
    """Log AT's answer for an outbox SMS in sms_messages, in the caller's transaction
    (the one that settles the row): submitted when AT accepted it, rejected with AT's
    status when AT refused it for good."""
    uow.sms.record_submission(
        outbox_id=outbox_id,
        recipient=recipient,
        status="submitted" if accepted else "rejected",
        provider_message_id=result.message_id,
        status_code=result.status_code,
        cost=result.cost,
        failure_reason=None if accepted else result.status,
    )
