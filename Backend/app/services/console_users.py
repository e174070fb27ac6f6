"""The console's users table: find a user by phone or PayTrace ID, unlock their PIN."""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.db.unit_of_work import UnitOfWork
from app.domain.phone import InvalidPhone, normalise
from app.domain.records.ledger import StatementLine
from app.errors import NotFound
from app.services import accounts, admin_views, pins, statements
from app.services.admin_views import UserOverview

PAYTRACE_ID = re.compile(r"^PT[0-9]{8}$")


@dataclass(frozen=True)
class UserCard:
    overview: UserOverview
    statement: tuple[StatementLine, ...]  # the latest movements, newest first


def phone_of(uow: UnitOfWork, query: str) -> str | None:
    """The E.164 phone a query names: a phone in any format, or a user's PayTrace ID."""
    query = query.strip()
    if PAYTRACE_ID.match(query.upper()):
        with uow:
            user = uow.users.get_by_paytrace_id(query.upper())
        return user.phone if user is not None else None
    try:
        return normalise(query)
    except InvalidPhone:
        return None


def find(uow: UnitOfWork, query: str) -> UserCard | None:
    """The user whose phone (any format) or PayTrace ID (PT########) this is, with their
    balance, PIN state and mini statement; None when no user matches. Read-only."""
    phone = phone_of(uow, query)
    if phone is None:
        return None
    overview = admin_views.user_overview(uow, phone)
    if overview is None:
        return None
    lines = statements.mini_statement(uow, user_id=overview.profile.user_id)
    return UserCard(overview=overview, statement=tuple(lines))


def unlock_pin(uow: UnitOfWork, *, phone: str, dedupe_key: str) -> bool:
    """The admin API's unlock (pins.unlock) for the user behind an E.164 phone: whether
    anything was locked or counted (then the user is told by SMS); commits. Raises
    NotFound for no such user or no PIN."""
    profile = accounts.get_profile(uow, phone)
    if profile is None:
        raise NotFound("no PayTrace user has this phone number")
    return pins.unlock(uow, user_id=profile.user_id, dedupe_key=dedupe_key)
