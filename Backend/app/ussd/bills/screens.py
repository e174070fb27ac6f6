"""Bills / Airtime's screens, declared as data (app/ussd/flow.py adds them).

Pay's first screen, 1 -> Bills and airtime
    1. Buy airtime  -> app/ussd/airtime/screens.py
    2. Pay a bill   -> (PIN-lock gate) -> biller (5 a page, 98 more) -> account
                    -> "KPLC prepaid, meter 12345678901, JANE W." + amount
                    -> "... KES 1,000 + fee 0, cashback 10" + PIN -> END with the reference
                       (9: "... KES 1,000 now and every month on the 4th?" + PIN -> END)
    3. My recent tokens -> END "Your last 3 tokens are coming by SMS."
The handlers are in flow.py.
"""

from __future__ import annotations

from app.ussd.bills import flow as bills
from app.ussd.engine import Menu, Option, Prompt

SCREENS = [
    Menu(
        "bills",
        "bills.title",
        (
            Option("bills.airtime", action=bills.airtime_chosen),
            Option("bills.pay", action=bills.bills_open),
            Option("bills.tokens", action=bills.tokens_resend),
        ),
    ),
    Prompt("bill.list", "bill.list", bills.bill_choose, values=bills.list_values),
    Prompt("bill.account", "bill.account", bills.bill_account, values=bills.account_values),
    Prompt("bill.amount", "bill.amount", bills.bill_amount, values=bills.amount_values),
    Prompt("bill.confirm", "bill.confirm", bills.bill_confirm, values=bills.confirm_values),
    Prompt("bill.repeat", "bill.repeat", bills.bill_repeat, values=bills.repeat_values),
]
