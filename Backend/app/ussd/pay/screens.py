"""The Pay branch of the USSD menu tree, declared as data (app/ussd/flow.py adds it).

Main menu 5. Pay -> (PIN-lock gate) -> till number -> amount
    -> "Pay MAMA MBOGA (till 512345) KES 250. Fee KES 0." + PIN -> END "Paid ... Ref ..."
The handlers are in flow.py.
"""

from __future__ import annotations

from app.ussd.engine import Prompt
from app.ussd.pay import flow as pay

SCREENS = [
    Prompt("pay.till", "pay.till", pay.pay_till),
    Prompt("pay.amount", "pay.amount", pay.pay_amount, values=pay.merchant_values),
    Prompt("pay.confirm", "pay.confirm", pay.pay_confirm, values=pay.confirm_values),
]
