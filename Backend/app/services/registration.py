"""Registration: a user, their PIN and their custodied Stellar wallet, in one transaction."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from app.db.repositories.users import PaytraceIdTaken
from app.db.unit_of_work import UnitOfWork
from app.domain.gsm7 import GSM7_CHARS
from app.domain.models import User, Wallet
from app.errors import AlreadyRegistered, Conflict, refused
from app.services.custody import SecretBox, new_keypair
from app.services.notifications import queue_sms

LANGUAGES = ("en", "sw")
ROLES = ("worker", "employer")
NAME_MIN, NAME_MAX = 2, 60
_NAME_MARKS = frozenset(" '-.")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
# 10^8 IDs: a collision is rare but possible; a handful of redraws makes failure absurd.
_PAYTRACE_ID_DRAWS = 8


@dataclass(frozen=True)
class NewUser:
    phone: str  # E.164 (already normalised by the caller)
    full_name: str
    pin_hash: str  # already hashed by PinHasher: the clear PIN never reaches this service
    language: str  # 'en' | 'sw'
    registration_key: str  # idempotency key from the channel, e.g. 'ussd:<sessionId>'
    role: str = "worker"  # 'worker' | 'employer'


@dataclass(frozen=True)
class Registered:
    user: User
    wallet: Wallet
    created: bool


def validate_full_name(raw: str) -> str:
    """The name tidied (spaces collapsed); raises ValidationFailed (code 'invalid_name').

    2..60 characters of GSM-7 letters (é, ñ, ß...), spaces, apostrophes, hyphens and
    dots, with at least two letters: every handset can then show it on a screen.
    """
    name = " ".join(raw.split())
    if not NAME_MIN <= len(name) <= NAME_MAX:
        raise refused("invalid_name", f"the name must be {NAME_MIN} to {NAME_MAX} characters")
    for ch in name:
        if ch in _NAME_MARKS:
            continue
        if not (ch.isalpha() and ch in GSM7_CHARS):
            raise refused("invalid_name", "use letters, spaces, apostrophes, hyphens or dots")
    if sum(ch.isalpha() for ch in name) < 2:
        raise refused("invalid_name", "the name needs at least two letters")
    return name


def validate_language(language: str) -> str:
    """Raises ValidationFailed (code 'invalid_language') unless 'en' or 'sw'."""
    if language not in LANGUAGES:
        raise refused("invalid_language", "the language must be 'en' or 'sw'")
    return language


def register_user(
    uow: UnitOfWork,
    box: SecretBox,
    new: NewUser,
    *,
    shortcode: str,
    now: datetime | None = None,
) -> Registered:
    """Create user, PIN, encrypted Stellar wallet, ledger account and welcome SMS at once.
    The wallet starts 'pending'; with custody on, the worker's settler creates its
    account on Stellar.

    Idempotent per registration_key: a repeat returns the same user and wallet with
    created=False and writes nothing. Raises AlreadyRegistered if the phone belongs
    to another registration, Conflict if the key was used for another phone, and
    ValidationFailed (codes 'invalid_name', 'invalid_language', 'invalid_role',
    'invalid_phone', 'invalid_pin_hash', 'invalid_registration_key') for bad input.
    """
    check_new_user(new)
    with uow:
        done = register_in(uow, box, new, shortcode=shortcode, now=now)
        if done.created:
            uow.commit()
    return done


def check_new_user(new: NewUser) -> None:
    """Raises ValidationFailed as register_user does for bad input, touching nothing."""
    validate_full_name(new.full_name)
    validate_language(new.language)
    if new.role not in ROLES:
        raise refused("invalid_role", "the role must be 'worker' or 'employer'")
    if not _E164.match(new.phone):
        raise refused("invalid_phone", "the phone number must be in E.164 form")
    if not new.pin_hash.startswith("$argon2"):
        # A clear PIN passed here by mistake must never be stored.
        raise refused("invalid_pin_hash", "the PIN must be hashed before registration")
    if not new.registration_key:
        raise refused("invalid_registration_key", "a registration key is required")


def register_in(
    uow: UnitOfWork,
    box: SecretBox,
    new: NewUser,
    *,
    shortcode: str,
    now: datetime | None = None,
) -> Registered:
    """register_user's work inside the caller's open transaction; the caller commits
    (when created) together with whatever else the registration must go with.

    Raises what register_user raises.
    """
    check_new_user(new)
    full_name = validate_full_name(new.full_name)
    now = now or datetime.now(UTC)
    earlier = _earlier_registration(uow, new)
    if earlier is not None:
        return earlier
    if uow.users.get_by_phone(new.phone) is not None:
        return _registered_meanwhile(uow, new)
    try:
        user = _add_user(uow, new, full_name, now)
    except AlreadyRegistered:
        # The unique index made us wait for a concurrent registration of this
        # phone; it has committed, so its user is now visible.
        return _registered_meanwhile(uow, new)
    address, seed = new_keypair()
    wallet = uow.wallets.add(
        user_id=user.id, stellar_address=address, stellar_secret_ct=box.encrypt(seed)
    )
    uow.pins.add(user.id, new.pin_hash)
    uow.ledger.open_wallet(user.id)
    queue_sms(
        uow,
        to=user.phone,
        template="welcome",
        language=user.language,
        dedupe_key=f"welcome:{user.id}",
        # The first name keeps the welcome within one 160-character SMS part.
        name=full_name.split(" ")[0],
        paytrace_id=user.paytrace_id,
        shortcode=shortcode,
    )
    return Registered(user=user, wallet=wallet, created=True)


def _earlier_registration(uow: UnitOfWork, new: NewUser) -> Registered | None:
    user = uow.users.get_by_registration_key(new.registration_key)
    if user is None:
        return None
    if user.phone != new.phone:
        raise Conflict("this registration key was used for another phone number")
    wallet = uow.wallets.get_by_user(user.id)
    assert wallet is not None  # created in the same transaction as the user
    return Registered(user=user, wallet=wallet, created=False)


def _registered_meanwhile(uow: UnitOfWork, new: NewUser) -> Registered:
    """The phone is taken: by a concurrent call with our key (return it), else raise."""
    # Each statement sees what committed before it, so a call with our key that
    # committed after our first look is visible now.
    earlier = _earlier_registration(uow, new)
    if earlier is None:
        raise AlreadyRegistered("this phone number is already registered")
    return earlier


def _add_user(uow: UnitOfWork, new: NewUser, full_name: str, now: datetime) -> User:
    for _ in range(_PAYTRACE_ID_DRAWS):
        try:
            return uow.users.add(
                paytrace_id=new_paytrace_id(),
                phone=new.phone,
                full_name=full_name,
                role=new.role,
                language=new.language,
                registration_key=new.registration_key,
                terms_accepted_at=now,
            )
        except PaytraceIdTaken:
            continue
    raise RuntimeError("could not draw a free PayTrace ID")


def new_paytrace_id() -> str:
    """'PT' and 8 random digits from a CSPRNG: not guessable from a neighbour's ID."""
    return f"PT{secrets.randbelow(10**8):08d}"
