"""The harness of the integration ports' contracts (Daraja, SMS, the M-Pesa statement,
the Stellar network): a scenario runs on the fake and on each real adapter, each made
fresh for it, and what a caller observes must be the same on all of them, so a fake
cannot drift from what it stands in for. (The USSD port's harness, which runs its
scenarios in an event loop, is tests/support/port_contract.py.)

A side is the port plus the means to arrange, its own way, what the scenario needs:
the fake is scripted, the real adapter's sandbox is set up through its own knobs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

S = TypeVar("S")
T = TypeVar("T")


def observe(sides: Mapping[str, Callable[[], S]], scenario: Callable[[S], T]) -> T:
    """The scenario's result, the same on every side (the first is the fake)."""
    seen = {name: scenario(make()) for name, make in sides.items()}
    (fake_name, fake), *reals = seen.items()
    for name, real in reals:
        assert fake == real, f"{fake_name} answers {fake!r}, {name} {real!r}"
    return fake


def outcome(
    call: Callable[[], T], refusal: type[Exception], *details: str
) -> T | tuple[str, dict[str, Any]]:
    """What a caller observes: the value, or the refusal's type with the named details."""
    try:
        return call()
    except refusal as refused:
        return type(refused).__name__, {name: getattr(refused, name) for name in details}
