"""Operators of the console: created by a command-line program, signed in with a password
and a TOTP code, slowed down after repeated failures.

A password is hashed like a PIN (PinHasher: argon2id over the peppered text); the TOTP
seed is custodied like a wallet secret (SecretBox, re-encrypted by `make rotate-keys`).
A sign-in says only "wrong email, password or code", whichever was wrong, and an unknown
email costs the same hash as a known one, so the form tells no one who is an operator.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime

import pyotp

from app.db.pool import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.records.console import ROLES, Operator
from app.errors import LastAdmin, SignInRefused, SignInSlowed, refused
from app.services import custody
from app.services.custody import SecretBox
from app.services.pins import PinHasher

PASSWORD_MIN = 12
PASSWORD_MAX = 128  # argon2 takes any length; a cap keeps a huge body from costing more
TOTP_ISSUER = "PayTrace console"
TOTP_PERIOD_S = 30
# A code from the step before or after the current one is accepted: phone clocks drift.
TOTP_DRIFT_STEPS = 1


@dataclass(frozen=True)
class SignInPolicy:
    """How long a sign-in waits after repeated failures.

    The first free_attempts wrong tries (password or code) cost nothing more; each one
    after waits first_wait_s after the last failure, doubled every further failure, up
    to max_wait_s. The wait is asked of the operator's account, not of an address, so a
    guesser spread over many addresses is slowed all the same.
    """

    free_attempts: int = 5
    first_wait_s: int = 30
    max_wait_s: int = 900

    def wait_s(self, operator: Operator, now: datetime) -> int:
        """Seconds still to wait before the next try may be checked (0: none)."""
        over = operator.failed_attempts - self.free_attempts
        if over < 0 or operator.last_failed_at is None:
            return 0
        wait = min(self.first_wait_s * 2**over, self.max_wait_s)
        left = wait - (now - operator.last_failed_at).total_seconds()
        return max(0, int(left + 0.999))


def allows(role: str, needed: str) -> bool:
    """Whether role may do what needs `needed`: each role may do what those below may."""
    return ROLES.index(role) >= ROLES.index(needed)


def normalised_email(email: str) -> str:
    return email.strip().lower()


@dataclass(frozen=True)
class NewOperator:
    operator: Operator
    provisioning_uri: str  # otpauth://...: shown once, for the authenticator app

    def __repr__(self) -> str:  # the URI holds the TOTP seed
        return f"NewOperator(operator={self.operator!r})"


def create(
    uow: UnitOfWork, hasher: PinHasher, box: SecretBox, *, email: str, role: str, password: str
) -> NewOperator:
    """A new operator with a fresh TOTP seed; commits. Raises ValidationFailed
    ('invalid_email', 'invalid_role', 'weak_password') and OperatorExists."""
    email = normalised_email(email)
    if "@" not in email or len(email) > 254 or any(c.isspace() for c in email):
        raise refused("invalid_email", "an operator needs an email address")
    if role not in ROLES:
        raise refused("invalid_role", f"role must be one of {', '.join(ROLES)}")
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise refused(
            "weak_password", f"a password has {PASSWORD_MIN} to {PASSWORD_MAX} characters"
        )
    seed = pyotp.random_base32()
    with uow:
        operator = uow.operators.add(
            email=email,
            role=role,
            password_hash=hasher.hash(password),
            totp_secret_ct=box.encrypt(seed),
        )
        uow.commit()
    uri = pyotp.TOTP(seed).provisioning_uri(name=email, issuer_name=TOTP_ISSUER)
    return NewOperator(operator, uri)


def set_disabled(uow: UnitOfWork, *, email: str, disabled: bool) -> bool:
    """Disable (or enable again) an operator; commits. False when no operator has this
    email. A disabled operator's open sessions end at their next request. Raises
    LastAdmin: the console keeps at least one enabled admin, from the shell too (the
    enabled admins are locked first, as the console's own change does)."""
    with uow:
        admins = uow.operators.lock_enabled_admins()
        target = uow.operators.by_email(normalised_email(email), for_update=True)
        if target is None:
            return False
        if disabled and admins == [target.id]:
            raise LastAdmin("the console needs at least one enabled admin")
        changed = uow.operators.set_disabled(target.email, disabled)
        uow.commit()
    return changed


def _matching_step(seed: str, code: str, now: datetime) -> int | None:
    """The TOTP time step whose code this is (within the drift), or None."""
    code = code.strip()
    if not (code.isascii() and code.isdigit() and len(code) == 6):  # "١٢٣٤٥٦" is isdigit()
        return None
    totp = pyotp.TOTP(seed, interval=TOTP_PERIOD_S)
    step = int(now.timestamp()) // TOTP_PERIOD_S
    for candidate in range(step - TOTP_DRIFT_STEPS, step + TOTP_DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.at(candidate * TOTP_PERIOD_S), code):
            return candidate
    return None


def sign_in(
    uow: UnitOfWork,
    hasher: PinHasher,
    box: SecretBox,
    *,
    email: str,
    password: str,
    code: str,
    now: datetime,
    policy: SignInPolicy | None = None,
) -> Operator:
    """The operator whose password and current TOTP code these are; commits the attempt.

    A code is accepted once (a replay of the last one used is wrong). Raises
    SignInSlowed while the policy makes the operator wait (nothing is checked), and
    SignInRefused for anything wrong, a disabled operator included: each counts a failure.
    """
    policy = policy or SignInPolicy()
    password = password[:PASSWORD_MAX]
    with uow:
        operator = uow.operators.by_email(normalised_email(email), for_update=True)
        if operator is None:
            hasher.hash(password)  # the time a real check takes: no one learns who exists
            raise SignInRefused()
        wait = policy.wait_s(operator, now)
        if wait:
            raise SignInSlowed(wait)
        step = None
        if hasher.verify(operator.password_hash, password):
            step = _matching_step(box.decrypt(operator.totp_secret_ct), code, now)
        replayed = step is not None and (operator.totp_last_step or -1) >= step
        if operator.disabled or step is None or replayed:
            uow.operators.record_failure(operator.id, now)
            uow.commit()
            raise SignInRefused()
        uow.operators.record_sign_in(operator.id, now, step)
        uow.commit()
    return operator


def active(uow: UnitOfWork, operator_id: int) -> Operator | None:
    """The operator, unless gone or disabled (a session of theirs then ends). Read-only."""
    with uow:
        operator = uow.operators.by_id(operator_id)
    return operator if operator is not None and not operator.disabled else None


def rekey_secrets(database: Database, box: SecretBox, batch_size: int = 500) -> int:
    """Re-encrypt every operator's TOTP seed under the newest key (`make rotate-keys`);
    returns how many were rewritten. Raises UndecryptableSecret naming the operator's id."""
    return custody.rekey_secrets(
        database,
        box,
        read=lambda uow, after, limit: uow.operators.batch_for_rekey(after, limit),
        write=lambda uow, row_id, token: uow.operators.set_totp_secret(row_id, token),
        what="operator",
        batch_size=batch_size,
    )
