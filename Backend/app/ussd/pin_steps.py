"""PIN steps every journey shares: choosing a new PIN, and what a refused PIN says."""

from __future__ import annotations

from datetime import UTC, datetime

from app.domain import pin as pin_rules
from app.domain.pin import lock_end_text
from app.errors import PinLocked, WrongPin
from app.ussd.engine import Context, End, Goto, Outcome, Reprompt


async def new_pin(ctx: Context, value: str, next_screen: str) -> Outcome:
    """A new PIN: refused if malformed or weak; else only its slow hash is kept."""
    if not pin_rules.is_well_formed(value):
        return Reprompt("err.pin_format")
    if pin_rules.is_weak(value):
        return Reprompt("err.pin_weak")
    # Only a slow salted hash is kept in the session, never the PIN itself.
    ctx.state.data["pin_hash"] = await ctx.services.hash_pin(value)
    return Goto(next_screen)


async def confirm_pin(ctx: Context, value: str, retry_screen: str) -> Outcome | None:
    """None when the confirmation matches; else send the user back to choose again."""
    pin_hash = ctx.state.data.get("pin_hash")
    well_formed = bool(pin_hash) and pin_rules.is_well_formed(value)
    if well_formed and await ctx.services.pin_matches(pin_hash, value):
        return None
    ctx.state.data.pop("pin_hash", None)
    ctx.state.stack.pop()  # back to the "choose a PIN" screen, with the reason on top
    return Goto(retry_screen, notice="err.pin_mismatch")


def pin_lock_end(lock: PinLocked, *, just_locked: bool = False) -> End:
    """The END of a locked PIN: when the lock ends (East Africa Time), or that only a
    reset opens it."""
    if lock.until is None:
        return End("end.pin_reset_required")
    until = lock_end_text(lock.until, datetime.now(UTC))
    return End("end.pin_locked_now" if just_locked else "end.pin_locked", {"until": until})


async def pin_lock_gate(ctx: Context) -> End | None:
    """Before a money-out journey asks anything: its END when the PIN is locked."""
    lock = await ctx.services.pin_lock(user_id=ctx.user.user_id)
    return pin_lock_end(lock) if lock is not None else None


def pin_refused(ctx: Context, exc: WrongPin | PinLocked) -> Outcome:
    """A wrong PIN re-prompts with the attempts left; a lock ends saying when it ends.

    The PIN service raises PinLocked on the very attempt that engages the lock;
    the session remembers the last count, so that attempt is told why.
    """
    if isinstance(exc, WrongPin):
        ctx.state.data["pin_left"] = exc.attempts_left
        return Reprompt("err.wrong_pin", {"left": exc.attempts_left})
    just_locked = ctx.state.data.pop("pin_left", None) == 1
    return pin_lock_end(exc, just_locked=just_locked)
