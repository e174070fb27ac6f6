"""PINs: hashing, checking for money-out, lockout after repeated failures, changing.

A 4-digit PIN has only 10,000 values, so a stolen hash alone must be useless:
the PIN is first keyed with a server-side pepper (HMAC-SHA256) that never enters
the database, then stretched with argon2id.

Long (over 300 lines) because the PIN's hashing, its policy (`PinPolicy.judge`, the
lockout rule both the service and the USSD fake apply) and every way a PIN changes are
kept beside each other: the lock is one rule.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from app.config import Settings
from app.db.unit_of_work import UnitOfWork
from app.domain.models import PinCredential
from app.domain.pin import is_weak, is_well_formed, lock_end_text
from app.errors import NotFound, PinLocked, PinResetRequired, WrongPin, refused
from app.infra.metrics import PIN_LOCKS
from app.services.notifications import queue_sms


@dataclass(frozen=True)
class PinPolicy:
    """How many wrong PINs make a lock, and how long each repeated lock lasts.

    Locks escalate: the n-th lock since the last right PIN lasts lock_minutes[n-1]
    (the last entry repeats); the lock after timed_locks of them lasts until an
    operator or an SMS-code reset opens the PIN, so guessing stops for good.
    """

    max_attempts: int = 3
    lock_minutes: tuple[int, ...] = (30, 120, 1440)
    timed_locks: int = 3

    @classmethod
    def from_settings(cls, settings: Settings) -> PinPolicy:
        """PIN_MAX_ATTEMPTS, PIN_LOCK_MINUTES and PIN_TIMED_LOCKS; raises nothing."""
        return cls(
            max_attempts=settings.pin_max_attempts,
            lock_minutes=tuple(settings.pin_lock_minutes),
            timed_locks=settings.pin_timed_locks,
        )

    def lock_length(self, lock_number: int) -> timedelta | None:
        """How long the lock_number-th lock (from 1) lasts; None when a reset is required."""
        if lock_number > self.timed_locks:
            return None
        return timedelta(minutes=self.lock_minutes[min(lock_number, len(self.lock_minutes)) - 1])

    def judge(
        self,
        state: PinCredential,
        *,
        previous: bool | None,
        is_right: Callable[[], bool],
        now: datetime,
    ) -> Judged:
        """The one rule for a PIN attempt, with no I/O: what to store and what to raise.

        previous is the stored outcome of this attempt's key (None: a new attempt). A
        repeated right attempt passes; a locked PIN raises its lock without counting
        (is_right is not called); a repeated wrong attempt raises WrongPin again without
        counting. Otherwise is_right() decides: a right PIN clears the counts, a wrong
        one counts, and the max_attempts-th wrong one engages the next lock
        (PinLocked), or after timed_locks of them PinResetRequired.
        """
        if previous:
            return Judged(state, None, counted=False)
        lock = lock_of(state, now)
        if lock is not None:
            return Judged(state, lock, counted=False)
        # A timed lock that has run out starts the attempts afresh (not the locks).
        failed = 0 if state.locked_until is not None else state.failed_attempts
        if previous is not None:
            return Judged(state, WrongPin(max(1, self.max_attempts - failed)), counted=False)
        if is_right():
            cleared = replace(state, failed_attempts=0, locked_until=None, lock_count=0)
            return Judged(cleared, None, counted=True, right=True)
        failed += 1
        if failed < self.max_attempts:
            counted = replace(state, failed_attempts=failed, locked_until=None)
            return Judged(counted, WrongPin(self.max_attempts - failed), counted=True)
        lock_count = state.lock_count + 1
        length = self.lock_length(lock_count)
        until = None if length is None else now + length
        locked = replace(
            state,
            failed_attempts=failed,
            locked_until=until,
            lock_count=lock_count,
            reset_required=until is None,
        )
        error = PinResetRequired() if until is None else PinLocked(until, now=now)
        return Judged(locked, error, counted=True, locked=True)


@dataclass(frozen=True)
class Judged:
    """A PIN attempt judged: the lockout state after it and the error to raise, if any."""

    state: PinCredential
    error: WrongPin | PinLocked | None  # PinResetRequired is a PinLocked
    counted: bool  # a new attempt: record its outcome under its key
    right: bool = False
    locked: bool = False  # this attempt engaged a lock: tell the user by SMS


class PinHasher:
    """argon2id over HMAC-SHA256(pepper, PIN)."""

    def __init__(self, pepper: str, *, time_cost: int, memory_kib: int) -> None:
        if not pepper:
            raise ValueError("a PIN pepper is required")
        self._pepper = pepper.encode()
        # parallelism=1: OWASP's argon2id profile; many hashes run side by side anyway.
        self._argon = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=1, type=Type.ID
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> PinHasher:
        """Raises ValueError when PIN_PEPPER is missing."""
        if settings.pin_pepper is None:
            raise ValueError("PIN_PEPPER is not set")
        return cls(
            settings.pin_pepper.get_secret_value(),
            time_cost=settings.pin_kdf_time_cost,
            memory_kib=settings.pin_kdf_memory_kib,
        )

    def _peppered(self, pin: str) -> str:
        return hmac.new(self._pepper, pin.encode(), hashlib.sha256).hexdigest()

    def hash(self, pin: str) -> str:
        """A salted argon2id hash of the peppered PIN; raises nothing for any string."""
        return self._argon.hash(self._peppered(pin))

    def verify(self, pin_hash: str, pin: str) -> bool:
        """True only for the right PIN; a wrong PIN or a malformed hash gives False."""
        try:
            return self._argon.verify(pin_hash, self._peppered(pin))
        except (VerificationError, InvalidHashError):
            return False


def lock_of(credential: PinCredential, now: datetime) -> PinLocked | None:
    """What a PIN check raises now, before looking at the PIN; None when open."""
    if credential.reset_required:
        return PinResetRequired()
    if credential.locked_until is not None and credential.locked_until > now:
        return PinLocked(credential.locked_until, now=now)
    return None


def verify_pin(
    uow: UnitOfWork,
    hasher: PinHasher,
    policy: PinPolicy,
    *,
    user_id: int,
    pin: str,
    attempt_key: str,
    now: datetime | None = None,
) -> None:
    """Check a PIN for money-out; commits.

    Raises PinLocked(until) while locked (that attempt is not counted) and also on
    the wrong attempt that engages a timed lock; PinResetRequired once the locks
    have run out (only unlock() or pin_reset.reset_pin() opens it); WrongPin(attempts_left
    >= 1) on any other wrong PIN; NotFound if the user has no PIN. A right PIN
    clears the count of locks. A repeated attempt_key replays its outcome against
    the current state without counting again.
    """
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (locked_until is TIMESTAMPTZ)")
    with uow:
        # The row lock serialises every attempt for this user: concurrent wrong
        # PINs are counted one after another and can never overshoot the limit.
        credential = uow.pins.get_for_update(user_id)
        if credential is None:
            raise NotFound("no PIN is set for this user")
        judged = policy.judge(
            credential,
            previous=uow.pins.attempt_outcome(attempt_key),
            is_right=lambda: hasher.verify(credential.pin_hash, pin),
            now=now,
        )
        if not judged.counted:
            if judged.error is not None:
                raise judged.error
            return
        uow.pins.record_attempt(attempt_key, user_id, judged.right)
        after = judged.state
        if after != credential:
            uow.pins.set_state(
                user_id,
                failed_attempts=after.failed_attempts,
                locked_until=after.locked_until,
                lock_count=after.lock_count,
                reset_required=after.reset_required,
            )
        if judged.locked:
            _tell_locked(uow, after, now)
        uow.commit()
        if judged.locked:
            PIN_LOCKS.inc()
        if judged.error is not None:
            raise judged.error


def _tell_locked(uow: UnitOfWork, state: PinCredential, now: datetime) -> None:
    """The SMS that says the PIN is locked, and until when (or until a reset)."""
    user_id = state.user_id
    user = uow.users.get_by_id(user_id)
    assert user is not None  # the credential's foreign key guarantees it
    if state.locked_until is None:
        queue_sms(
            uow,
            to=user.phone,
            template="pin_reset_required",
            language=user.language,
            dedupe_key=f"pin_reset_required:{user_id}:{state.lock_count}:{now.isoformat()}",
        )
        return
    queue_sms(
        uow,
        to=user.phone,
        template="pin_locked",
        language=user.language,
        dedupe_key=f"pin_locked:{user_id}:{state.locked_until.isoformat()}",
        until=lock_end_text(state.locked_until, now),
    )


def set_pin(uow: UnitOfWork, *, user_id: int, pin_hash: str, dedupe_key: str) -> None:
    """Store a new PIN hash, clear failures and lock, queue a 'pin_changed' SMS; commits.

    The caller has just verified the old PIN. Raises NotFound if the user has no
    PIN credential.
    """
    with uow:
        credential = uow.pins.get_for_update(user_id)
        user = uow.users.get_by_id(user_id)
        if credential is None or user is None:
            raise NotFound("no PIN is set for this user")
        uow.pins.set_pin(user_id, pin_hash)
        queue_sms(
            uow,
            to=user.phone,
            template="pin_changed",
            language=user.language,
            dedupe_key=dedupe_key,
        )
        uow.commit()


def check_new_pin(pin: str) -> None:
    """Raises ValidationFailed (code 'invalid_pin' or 'weak_pin') for a PIN we refuse."""
    if not is_well_formed(pin):
        raise refused("invalid_pin", "the PIN must be 4 digits")
    if is_weak(pin):
        raise refused("weak_pin", "this PIN is too easy to guess")


def change_pin(
    uow: UnitOfWork,
    hasher: PinHasher,
    policy: PinPolicy,
    *,
    user_id: int,
    old_pin: str,
    new_pin: str,
    attempt_key: str,
) -> None:
    """Verify the old PIN, then store a new one; two transactions (verify_pin, set_pin).

    Raises what verify_pin raises (WrongPin, PinLocked, NotFound), then
    ValidationFailed with code 'invalid_pin' or 'weak_pin' for a refused new PIN.
    """
    verify_pin(uow, hasher, policy, user_id=user_id, pin=old_pin, attempt_key=attempt_key)
    check_new_pin(new_pin)
    set_pin(
        uow,
        user_id=user_id,
        pin_hash=hasher.hash(new_pin),
        dedupe_key=f"pin_changed:{attempt_key}",
    )


def unlock(uow: UnitOfWork, *, user_id: int, dedupe_key: str) -> bool:
    """Clear wrong-PIN failures, any lock, the count of locks and a required reset
    (support's unlock, after the caller proved who they are); commits.

    Returns whether anything was locked or counted; only then is the user told
    by SMS. Raises NotFound if the user has no PIN credential.
    """
    with uow:
        credential = uow.pins.get_for_update(user_id)
        user = uow.users.get_by_id(user_id)
        if credential is None or user is None:
            raise NotFound("no PIN is set for this user")
        if not (
            credential.failed_attempts
            or credential.locked_until is not None
            or credential.lock_count
            or credential.reset_required
        ):
            return False
        uow.pins.set_state(user_id, failed_attempts=0, locked_until=None, lock_count=0)
        queue_sms(
            uow,
            to=user.phone,
            template="pin_unlocked",
            language=user.language,
            dedupe_key=dedupe_key,
        )
        uow.commit()
    return True


def current_lock(uow: UnitOfWork, *, user_id: int, now: datetime | None = None) -> PinLocked | None:
    """The error a PIN check would raise now (PinLocked or PinResetRequired, with the
    lock's end), or None when money-out is open: for screens that warn before asking.

    Read-only (rolls back). Raises NotFound if the user has no PIN credential.
    """
    now = now or datetime.now(UTC)
    with uow:
        # No row lock: a screen that says "locked" a moment late is harmless,
        # and the PIN check itself locks the row.
        credential = uow.pins.get(user_id)
    if credential is None:
        raise NotFound("no PIN is set for this user")
    return lock_of(credential, now)
