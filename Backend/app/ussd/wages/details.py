"""My account > I employ someone > a worker > 4 Change name or deductions
(docs/wages.md, docs/ussd.md).

"{name}: deducted {items} / 1. Change name / 2. Change deductions" ->
    1 -> the new name on the payslip (REST's rule: 1-30 GSM-7 characters) -> PIN -> END
    2 -> the four items, each switched (items.py), 5 Done -> PIN -> END
Both go through employers.edit_worker (REST's PATCH) with only the term changed: the
next pay uses it, pay runs made before keep their payslips. The session keeps the
change under wg_det until the PIN.
"""

from __future__ import annotations

from typing import Any

from app.domain import pin as pin_rules
from app.domain.wages import ITEMS
from app.errors import NotAnEmployer, PinLocked, ValidationFailed, WorkerNotFound, WrongPin
from app.ussd.engine import Context, End, Goto, Outcome, Reprompt
from app.ussd.pin_steps import pin_refused
from app.ussd.texts import text
from app.ussd.wages.employ import payslip_name
from app.ussd.wages.items import items_text


def _pick(ctx: Context) -> dict[str, Any]:
    return ctx.state.data.get("wg_pick") or {"id": 0, "name": "", "items": list(ITEMS)}


def pick_name(ctx: Context) -> str:
    return _pick(ctx)["name"]


async def change_name(ctx: Context, _: str) -> Outcome:
    if not ctx.state.data.get("wg_pick"):
        return Goto("account", reset=True)
    ctx.state.data["wg_det"] = {}
    return Goto("wg.det_name")


async def change_items(ctx: Context, _: str) -> Outcome:
    pick = ctx.state.data.get("wg_pick")
    if not pick:
        return Goto("account", reset=True)
    ctx.state.data["wg_det"] = {"items": list(pick.get("items", ITEMS))}
    return Goto("wg.det_items")


async def new_name(ctx: Context, value: str) -> Outcome:
    det = ctx.state.data.get("wg_det")
    if det is None or not ctx.state.data.get("wg_pick"):
        return Goto("account", reset=True)
    name = payslip_name(value)
    if name is None:
        return Reprompt("err.wg_name")
    ctx.state.data["wg_det"] = {"name": name}
    return Goto("wg.det_pin")


async def det_confirm(ctx: Context, value: str) -> Outcome:
    pick, det = ctx.state.data.get("wg_pick"), ctx.state.data.get("wg_det")
    if not pick or not det:
        return Goto("account", reset=True)
    if not pin_rules.is_well_formed(value):
        return Reprompt("err.pin_format")
    ctx.committing()
    try:
        await ctx.services.edit_worker(
            employer_user_id=ctx.user.user_id,
            worker_id=pick["id"],
            pin=value,
            attempt_key=f"ussd:{ctx.hop_key}",
            display_name=det.get("name"),
            deductions=det.get("items"),
        )
    except (WrongPin, PinLocked) as exc:
        return pin_refused(ctx, exc)
    except (WorkerNotFound, NotAnEmployer, ValidationFailed):
        # Removed meanwhile, or terms the screens never let through.
        return End("end.wg_cannot_pay", {"name": pick["name"]})
    return End("end.wg_det_changed", det_values(ctx))


def det_values(ctx: Context) -> dict[str, Any]:
    pick, det = _pick(ctx), ctx.state.data.get("wg_det") or {}
    if "name" in det:
        change = text(ctx.lang, "wg.change_name", new_name=det["name"])
    else:
        change = text(ctx.lang, "wg.change_items", items=items_text(ctx.lang, det.get("items", ())))
    return {
        "name": pick["name"],
        "items": items_text(ctx.lang, pick.get("items", ITEMS)),
        "change": change,
    }
