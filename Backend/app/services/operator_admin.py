"""Admins managing operators from the console: list, change a role, disable or enable,
and give a new TOTP seed. Creating one is `operators.create`, as the command line does.

Two rules keep the console from locking its admins out: an admin changes neither their
own role nor their own disabled flag (another admin does), and no change leaves the
console without an enabled admin. The enabled admins' rows are locked before the count,
so two admins demoting each other at once cannot both succeed.
"""

from __future__ import annotations

import pyotp

from app.db.unit_of_work import UnitOfWork
from app.domain.records.console import ROLES, Operator
from app.errors import LastAdmin, NotFound, OwnAccount, refused
from app.services.custody import SecretBox
from app.services.operators import TOTP_ISSUER


def all_operators(uow: UnitOfWork) -> list[Operator]:
    """Every operator, oldest first. Reads only."""
    with uow:
        return uow.operators.all()


def _checked_change(uow: UnitOfWork, acting_id: int, operator_id: int) -> Operator:
    """The operator to change, locked with every enabled admin (inside uow).
    Raises NotFound, OwnAccount."""
    if operator_id == acting_id:
        raise OwnAccount("another admin must change your own account")
    uow.operators.lock_enabled_admins()
    target = uow.operators.by_id(operator_id, for_update=True)
    if target is None:
        raise NotFound("no such operator")
    return target


def _refuse_last_admin(uow: UnitOfWork, target: Operator) -> None:
    admins = uow.operators.lock_enabled_admins()
    if admins == [target.id]:
        raise LastAdmin("the console needs at least one enabled admin")


def set_role(uow: UnitOfWork, *, acting_id: int, operator_id: int, role: str) -> bool:
    """Give the operator another role; commits. False when it had that role already.
    Raises ValidationFailed ('invalid_role'), NotFound, OwnAccount, LastAdmin."""
    if role not in ROLES:
        raise refused("invalid_role", f"role must be one of {', '.join(ROLES)}")
    with uow:
        target = _checked_change(uow, acting_id, operator_id)
        if target.role == role:
            return False
        if target.role == "admin" and not target.disabled:
            _refuse_last_admin(uow, target)
        uow.operators.set_role(operator_id, role)
        uow.commit()
    return True


def set_disabled(uow: UnitOfWork, *, acting_id: int, operator_id: int, disabled: bool) -> bool:
    """Disable the operator (their sessions end at their next request) or enable them
    again; commits. False when nothing changed. Raises NotFound, OwnAccount, LastAdmin."""
    with uow:
        target = _checked_change(uow, acting_id, operator_id)
        if target.disabled == disabled:
            return False
        if disabled and target.role == "admin":
            _refuse_last_admin(uow, target)
        uow.operators.set_disabled_by_id(operator_id, disabled)
        uow.commit()
    return True


def reset_totp(uow: UnitOfWork, box: SecretBox, *, acting_id: int, operator_id: int) -> str:
    """A new TOTP seed for the operator (a lost phone); commits. Returns the otpauth://
    URI, shown once; the old seed's codes are refused from now on, and the operator's
    sessions opened before now end at their next request. Raises NotFound,
    OwnAccount (an admin who closed the page unscanned would be locked out)."""
    seed = pyotp.random_base32()
    with uow:
        target = _checked_change(uow, acting_id, operator_id)
        uow.operators.replace_totp_secret(operator_id, box.encrypt(seed))
        uow.commit()
    return pyotp.TOTP(seed).provisioning_uri(name=target.email, issuer_name=TOTP_ISSUER)
