"""The Pay branch of the USSD menu tree, declared as data (app/ussd/flow.py adds it).

Main menu 5. Pay -> (PIN-lock gate) -> till number or order code (or 1. Bills / Airtime:
    app/ussd/bills/screens.py and app/ussd/airtime/screens.py)
    till (5-7 digits) -> amount
        -> "Pay MAMA MBOGA (till 512345) KES 250. Fee KES 0." + PIN -> END "Paid ... Ref ..."
    order code (8 digits, Luhn-checked)
        -> "Pay MAMA MBOGA KES 250 for Sukuma wiki. Fee KES 0." + PIN -> END "Paid ..."
A merchant's request to pay opens a dial on its own screen (requests.py):
    "MAMA MBOGA asks KES 250 for Sukuma wiki. 1. Pay 2. Decline 0. Later"
        1 -> (PIN-lock gate) -> pay.confirm_order as above; 2 -> END "You declined ..."
The handlers are in flow.py and requests.py.
"""

from __future__ import annotations

from app.ussd.engine import Prompt
from app.ussd.pay import flow as pay
from app.ussd.pay import requests

SCREENS = [
    Prompt("pay.till", "pay.till", pay.pay_till),
    Prompt("pay.amount", "pay.amount", pay.pay_amount, values=pay.merchant_values),
    Prompt("pay.confirm", "pay.confirm", pay.pay_confirm, values=pay.confirm_values),
    Prompt(
        "pay.confirm_order", "pay.confirm_order", pay.pay_confirm, values=pay.order_confirm_values
    ),
    # Its own "0. Later" in the text: no back/home footer.
    Prompt(
        requests.SCREEN,
        "payreq.ask",
        requests.request_choice,
        values=requests.request_values,
        nav=False,
    ),
]
