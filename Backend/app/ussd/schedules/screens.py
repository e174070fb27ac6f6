"""My account > Scheduled payments, declared as data (app/ussd/flow.py adds it).

My account 7. Scheduled payments -> list (4 a page, 98 more): "1. Amina O. 1,500 m31"
    -> "KES 1,500 to Amina Otieno / Monthly, day 31, 09:00 / Next 31/01/28 09:00"
        1. Pause 2. Resume 3. Stop -> PIN -> END "Paused: ..." / "Resumed: ..." / "Stopped: ..."
The handlers are in flow.py.
"""

from __future__ import annotations

from app.ussd.engine import Menu, Option, Prompt
from app.ussd.schedules import flow as schedules

SCREENS = [
    Prompt("sch.list", "sch.list", schedules.schedules_choose, values=schedules.list_values),
    Menu(
        "sch.item",
        "sch.item",
        (
            Option("sch.pause", action=schedules.pause_chosen),
            Option("sch.resume", action=schedules.resume_chosen),
            Option("sch.stop", action=schedules.stop_chosen),
        ),
        values=schedules.item_values,
    ),
    Prompt("sch.pin", "sch.pin", schedules.change_confirm, values=schedules.item_values),
]
