"""The statutory items a worker pays, chosen on USSD (docs/wages.md): when adding a
worker (employ.py) and in the worker's 4 Change name or deductions (details.py).

One screen lists the four items with their state ("1. NSSF: yes") and 5. Done (0 is
Back on every screen): each answer 1-4 switches one item and shows the screen again,
so what the screen says is what is deducted (a casual worker paid daily often owes
no PAYE). The choice lives in the session under the journey's own key until Done.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.domain.wages import ITEMS
from app.ussd.engine import Context, Goto, Outcome, Reprompt, Values
from app.ussd.texts import text

DONE = "5"
NAME_SHOWN = 12  # as the list of workers shows a name: four Kiswahili lines need room


def items_text(lang: str, chosen: list[str] | tuple[str, ...]) -> str:
    """The items chosen, in ITEMS' order ('NSSF, SHIF, Housing levy, PAYE'), or 'none'."""
    names = [text(lang, f"wg.item_{item}") for item in ITEMS if item in chosen]
    return ", ".join(names) or text(lang, "wg.items_none")


def switches_values(key: str, name_of: Callable[[Context], str]) -> Values:
    """The toggle screen's values: the worker's name (as name_of shows it) and one
    line per item."""

    def values(ctx: Context) -> dict[str, Any]:
        held = ctx.state.data.get(key) or {}
        chosen = held.get("items", ())
        lines = [
            f"{n}. {text(ctx.lang, f'wg.item_{item}')}: "
            + text(ctx.lang, "wg.item_on" if item in chosen else "wg.item_off")
            for n, item in enumerate(ITEMS, 1)
        ]
        return {"name": name_of(ctx)[:NAME_SHOWN], "switches": "\n".join(lines)}

    return values


def switch(key: str, screen: str, done: str):
    """A handler switching one item (1-4) of ctx.state.data[key]['items'], or going to
    the done screen on 5."""

    async def handler(ctx: Context, value: str) -> Outcome:
        held = ctx.state.data.get(key)
        if not held or "items" not in held:
            return Goto("account", reset=True)
        if value == DONE:
            return Goto(done)
        if not (value.isascii() and value.isdigit() and 1 <= int(value) <= len(ITEMS)):
            return Reprompt("err.invalid_option")
        item = ITEMS[int(value) - 1]
        chosen = set(held["items"]) ^ {item}
        held["items"] = [i for i in ITEMS if i in chosen]
        return Goto(screen)  # the same screen: shown again with the switch made

    return handler
