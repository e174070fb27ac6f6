"""Resetting a PIN with a one-time code sent by SMS: the user's own way out of a lock.

After PIN_TIMED_LOCKS timed locks only an operator or this reset opens a PIN. The
code (purpose 'pin_reset', from otp.request_code) proves that the caller holds the
phone; its own limits (tries per address and in total, expiry, single use) apply.
"""

from __future__ import annotations

from datetime import UTC, datetime

from app.db.unit_of_work import UnitOfWork
from app.errors import InvalidCredentials
from app.services import otp
from app.services.notifications import queue_sms
from app.services.otp import OtpKit


def reset_pin(
    uow: UnitOfWork,
    kit: OtpKit,
    *,
    phone: str,
    code: str,
    pin_hash: str,
    address: str = "",
    now: datetime | None = None,
) -> int:
    """Replace phone's PIN with an already checked and hashed new one, clearing every
    lock; returns the user id. Checks the code (its miss commits apart), then uses it
    up, stores the PIN and queues a 'pin_reset' SMS in one transaction.

    The caller refuses a weak new PIN first (pins.check_new_pin), so a typo does not
    spend the code. Raises InvalidCredentials for an unknown phone or a wrong, stale
    or used code alike.
    """
    now = now or datetime.now(UTC)
    otp_id = otp.check_code(
        uow, kit, phone=phone, purpose="pin_reset", code=code, address=address, now=now
    )
    with uow:
        user = uow.users.get_by_phone(phone)
        # The row lock queues this behind any PIN check of the user in flight.
        if user is None or uow.pins.get_for_update(user.id) is None:
            raise InvalidCredentials()
        if not uow.otps.consume(otp_id, now):  # a concurrent reset used it first
            raise InvalidCredentials()
        uow.pins.set_pin(user.id, pin_hash)
        queue_sms(
            uow,
            to=user.phone,
            template="pin_reset",
            language=user.language,
            dedupe_key=f"pin_reset:{otp_id}",
        )
        uow.commit()
    return user.id
