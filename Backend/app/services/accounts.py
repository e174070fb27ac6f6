"""Account reads and settings: the profile a channel shows, the language it speaks."""

from __future__ import annotations

from dataclasses import dataclass

from app.db.unit_of_work import UnitOfWork
from app.domain.models import User
from app.errors import NotFound
from app.services.registration import validate_full_name, validate_language


@dataclass(frozen=True)
class Profile:
    user_id: int
    paytrace_id: str
    phone: str
    full_name: str
    language: str
    role: str
    stellar_address: str
    activation_status: str  # pending | active | failed (on Stellar)


def get_profile(uow: UnitOfWork, phone: str) -> Profile | None:
    """The registered user behind an E.164 phone number, or None; raises ServiceUnavailable."""
    # One indexed statement that is its own transaction (autocommit): one round trip,
    # where BEGIN, SELECT and ROLLBACK took three. A USSD session's first hop waits on it
    # when its caller is in no cache.
    with uow, uow.statements_commit_themselves():
        found = uow.users.get_with_wallet_by_phone(phone)
    if found is None:
        return None
    user, address, activation_status = found
    return profile_of(user, address, activation_status)


def get_profiles(uow: UnitOfWork, phones: list[str]) -> dict[str, Profile]:
    """get_profile for several phones in one statement (its own transaction, as
    get_profile's): the registered ones' profiles by phone; raises ServiceUnavailable."""
    with uow, uow.statements_commit_themselves():
        found = uow.users.get_with_wallet_by_phones(phones)
    return {phone: profile_of(*row) for phone, row in found.items()}


def get_profile_by_id(uow: UnitOfWork, user_id: int) -> Profile:
    """The profile of a user by id; raises NotFound, ServiceUnavailable."""
    with uow:
        found = uow.users.get_with_wallet_by_id(user_id)
    if found is None:
        raise NotFound("no such user")
    return profile_of(*found)


def update_profile(
    uow: UnitOfWork, *, user_id: int, full_name: str | None = None, language: str | None = None
) -> Profile:
    """Change the user's name and/or language; commits and returns the new profile.

    The name is checked as at registration. Raises ValidationFailed (codes
    'invalid_name', 'invalid_language') and NotFound for an unknown user.
    """
    name = validate_full_name(full_name) if full_name is not None else None
    if language is not None:
        validate_language(language)
    with uow:
        if uow.users.get_by_id(user_id) is None:
            raise NotFound("no such user")
        if name is not None:
            uow.users.set_full_name(user_id, name)
        if language is not None:
            uow.users.set_language(user_id, language)
        found = uow.users.get_with_wallet_by_id(user_id)
        uow.commit()
    assert found is not None  # the user was there a statement ago, in this transaction
    return profile_of(*found)


def profile_of(user: User, stellar_address: str, activation_status: str) -> Profile:
    """The profile a channel shows, from a user and their wallet's address and status."""
    return Profile(
        user_id=user.id,
        paytrace_id=user.paytrace_id,
        phone=user.phone,
        full_name=user.full_name,
        language=user.language,
        role=user.role,
        stellar_address=stellar_address,
        activation_status=activation_status,
    )


def set_language(uow: UnitOfWork, *, user_id: int, language: str) -> None:
    """Change the user's language; commits.

    Raises ValidationFailed (code 'invalid_language') unless 'en' or 'sw', and
    NotFound for an unknown user.
    """
    validate_language(language)
    with uow:
        if uow.users.get_by_id(user_id) is None:
            raise NotFound("no such user")
        uow.users.set_language(user_id, language)
        uow.commit()
