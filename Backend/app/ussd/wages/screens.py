"""My account > Pay worker, declared as data (app/ussd/flow.py adds it; My pay is one
END, an action of the account menu). The handlers are in flow.py.

My account 9. I employ someone -> "1. Achieng" (5 at most), "9. Add worker" -> pick
    -> "Achieng: KES 16,114 a month gross / 1. Pay now / 2. Pay monthly on a day /
        3. Change pay / 4. Change name or deductions"
    1 -> "Pay Achieng net KES 14,462 / NSSF 967 SHIF 443 AHL 242 / You pay KES 17,322.
        Enter PIN" -> END "Paid: Achieng gets KES 14,462 and a payslip by SMS."
    2 -> the day -> PIN -> END (terms.py)
    3 -> new gross pay -> monthly/weekly/daily -> PIN -> END (terms.py)
    4 -> 1 the new name, or 2 the deductions switched (items.py) -> PIN -> END
        (details.py)
    9 Add worker -> phone -> name -> gross pay -> monthly/weekly/daily -> 1 All or
        2 Choose the deductions -> 1. Add -> END
"""

from __future__ import annotations

from app.ussd.engine import Menu, Option, Prompt
from app.ussd.wages import details, employ, items, terms
from app.ussd.wages import flow as wages

SCREENS = [
    Prompt("wg.workers", "wg.workers", wages.worker_chosen, values=wages.workers_values),
    Prompt("wg.worker", "wg.worker", wages.worker_action, values=wages.worker_values),
    # 2 Pay on a schedule, 3 Change pay (terms.py)
    Prompt("wg.sched_day", "wg.sched_day", terms.sched_day, values=terms.sched_values),
    Prompt("wg.sched_pin", "wg.sched_pin", terms.sched_confirm, values=terms.sched_values),
    Prompt("wg.edit_gross", "wg.edit_gross", terms.edit_gross, values=terms.edit_values),
    Menu(
        "wg.edit_every",
        "wg.add_every",
        (
            Option("wg.monthly", action=terms.edit_month),
            Option("wg.weekly", action=terms.edit_week),
            Option("wg.daily", action=terms.edit_day),
        ),
        values=terms.edit_values,
    ),
    Prompt("wg.edit_pin", "wg.edit_pin", terms.edit_confirm, values=terms.edit_values),
    # 4 Change name or deductions (details.py)
    Menu(
        "wg.det",
        "wg.det",
        (
            Option("wg.det_name_opt", action=details.change_name),
            Option("wg.det_items_opt", action=details.change_items),
        ),
        values=details.det_values,
    ),
    Prompt("wg.det_name", "wg.det_name", details.new_name, values=details.det_values),
    Prompt(
        "wg.det_items",
        "wg.items",
        items.switch("wg_det", "wg.det_items", "wg.det_pin"),
        values=items.switches_values("wg_det", details.pick_name),
    ),
    Prompt("wg.det_pin", "wg.det_pin", details.det_confirm, values=details.det_values),
    Prompt("wg.confirm", "wg.confirm", wages.pay_confirm, values=wages.confirm_values),
    # 9 Add worker (employ.py)
    Prompt("wg.add_phone", "wg.add_phone", employ.add_phone),
    Prompt("wg.add_name", "wg.add_name", employ.add_name, values=employ.add_values),
    Prompt("wg.add_gross", "wg.add_gross", employ.add_gross, values=employ.add_values),
    Menu(
        "wg.add_every",
        "wg.add_every",
        (
            Option("wg.monthly", action=employ.every_month),
            Option("wg.weekly", action=employ.every_week),
            Option("wg.daily", action=employ.every_day),
        ),
        values=employ.add_values,
    ),
    Menu(
        "wg.add_ded",
        "wg.add_ded",
        (
            Option("wg.ded_all", action=employ.all_items),
            Option("wg.ded_choose", action=employ.choose_items),
        ),
        values=employ.add_values,
    ),
    Prompt(
        "wg.add_items",
        "wg.items",
        items.switch("wg_new", "wg.add_items", "wg.add_confirm"),
        values=items.switches_values("wg_new", employ.new_name),
    ),
    Menu(
        "wg.add_confirm",
        "wg.add_confirm",
        (Option("wg.add_yes", action=employ.add_confirm),),
        values=employ.add_values,
    ),
]
