"""Buy airtime's screens, declared as data (app/ussd/flow.py adds them).

Pay's first screen, 1 (Bills / Airtime), 1 -> (PIN-lock gate)
    -> 1. My number / 2. Another number
    -> (another: the number) -> the amount
    -> "Airtime Safaricom 0712 345 678 KES 100 + fee KES 0" + PIN -> END with the reference
       (9: "... KES 100 now and every month on the 4th?" + PIN -> END, and it repeats)
The handlers are in flow.py.
"""

from __future__ import annotations

from app.ussd.airtime import flow as air
from app.ussd.engine import Menu, Option, Prompt

SCREENS = [
    Menu(
        "air.who",
        "air.who",
        (Option("air.mine", action=air.my_number), Option("air.other", goto="air.phone")),
    ),
    Prompt("air.phone", "air.phone", air.another_number),
    Prompt("air.amount", "air.amount", air.airtime_amount, values=air.number_values),
    Prompt("air.confirm", "air.confirm", air.airtime_confirm, values=air.confirm_values),
    Prompt("air.repeat", "air.repeat", air.airtime_repeat, values=air.repeat_values),
]
