"""My account > Scheduled payments, declared as data (app/ussd/flow.py adds it).

My account 7. Scheduled payments -> list (4 a page, 98 more): "1. Amina O. 1,500 m31", "9. New"
    -> "KES 1,500 to Amina Otieno / Monthly, day 31, 09:00 / Next 31/01/28 09:00"
        1. Pause 2. Resume 3. Stop -> PIN -> END "Paused: ..." / "Resumed: ..." / "Stopped: ..."
    9. New -> phone -> amount -> 1. Every month 2. Every week -> day -> PIN
        -> END "Scheduled: KES 1,500 to Amina Otieno, Monthly, day 31, 09:00. First ..."
The handlers are in flow.py and new.py.
"""

from __future__ import annotations

from app.ussd.engine import Menu, Option, Prompt
from app.ussd.schedules import flow as schedules
from app.ussd.schedules import new

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
    # 9 New
    Prompt("sch.new_phone", "sch.new_phone", new.new_phone),
    Prompt("sch.new_amount", "sch.new_amount", new.new_amount, values=new.new_values),
    Menu(
        "sch.new_when",
        "sch.new_when",
        (
            Option("sch.every_month", action=new.every_month),
            Option("sch.every_week", action=new.every_week),
        ),
        values=new.new_values,
    ),
    Prompt("sch.new_day", "sch.new_day", new.new_day, values=new.new_values),
    Prompt("sch.new_pin", "sch.new_pin", new.new_confirm, values=new.new_values),
]
