"""Invitation SMS: what Send money offers when the recipient is not on PayTrace.

Each one is an SMS PayTrace pays for, sent to a number that never asked for it,
so a sender gets at most one per number and day, and at most
INVITES_PER_SENDER_PER_DAY across all numbers (counted in PostgreSQL, so the cap
holds across processes and restarts).
"""

from __future__ import annotations

from datetime import UTC, datetime

from app.db.unit_of_work import UnitOfWork
from app.domain.money import nairobi_day
from app.errors import InviteLimitReached, NotFound, refused
from app.services.notifications import queue_sms
from app.services.promotions import referrals


def invite(
    uow: UnitOfWork,
    *,
    sender_user_id: int,
    phone: str,
    shortcode: str,
    daily_limit: int,
    now: datetime | None = None,
) -> bool:
    """Queue an invitation SMS to an unregistered number; commits.

    Returns False when this sender already invited this number today (nothing sent,
    nothing counted). Raises ValidationFailed ('already_registered') for a user's
    number, InviteLimitReached when the sender's day has daily_limit invitations
    already (nothing sent), NotFound for an unknown sender.
    """
    day = nairobi_day(now or datetime.now(UTC))
    with uow:
        sender = uow.users.get_by_id(sender_user_id)
        if sender is None:
            raise NotFound("no such user")
        if uow.users.get_by_phone(phone) is not None:
            raise refused("already_registered", "this number is already on PayTrace")
        queued = queue_sms(
            uow,
            to=phone,
            template="invite",
            # The invitee's language is unknown: the sender's is the best guess.
            language=sender.language,
            dedupe_key=f"invite:{sender_user_id}:{phone}:{day.isoformat()}",
            name=sender.full_name.split(" ")[0],
            shortcode=shortcode,
        )
        if queued is None:  # this number today: the earlier SMS stands
            return False
        # Counted after the number's own check, so a repeat never uses up the day.
        if not uow.invitations.take(sender_user_id, day, daily_limit):
            raise InviteLimitReached(daily_limit)  # rolls back the queued SMS
        # The first to invite a number is its referrer (services/promotions/referrals.py).
        referrals.record_invitation(
            uow, referrer_user_id=sender_user_id, phone=phone, at=now or datetime.now(UTC)
        )
        uow.commit()
    return True
