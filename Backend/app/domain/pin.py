"""PIN rules shared by every channel."""

from __future__ import annotations

import itertools
from datetime import datetime

from app.domain.money import NAIROBI

PIN_LENGTH = 4


def is_well_formed(pin: str) -> bool:
    return len(pin) == PIN_LENGTH and pin.isascii() and pin.isdigit()


def is_weak(pin: str) -> bool:
    """Refuse PINs a thief would try first: repeats, runs, pairs and years."""
    digits = [int(c) for c in pin]
    steps = {b - a for a, b in itertools.pairwise(digits)}
    if len(set(digits)) == 1:  # 0000, 1111
        return True
    if steps in ({1}, {-1}):  # 1234, 4321
        return True
    if pin[:2] == pin[2:]:  # 1212, 2020
        return True
    if pin[0] == pin[1] and pin[2] == pin[3]:  # 1122
        return True
    if pin[:2] == pin[3] + pin[2]:  # 1221
        return True
    return pin.startswith("19") or pin.startswith("20")  # birth years


def lock_end_text(until: datetime, now: datetime) -> str:
    """When a lock ends, as a Kenyan reads it: '14:30' in East Africa Time, with the day
    ('05/12 14:30') when that is not today."""
    end, today = until.astimezone(NAIROBI), now.astimezone(NAIROBI)
    if end.date() == today.date():
        return end.strftime("%H:%M")
    return end.strftime("%d/%m %H:%M")
