"""The M-Pesa branch of the USSD menu tree, declared as data (app/ussd/flow.py adds it).

Main menu 2. Deposit  -> amount -> END "check your phone"
Main menu 3. Withdraw -> amount -> confirmation with the fee -> PIN -> END
Both to the caller's own number; the handlers are in flow.py.
"""

from __future__ import annotations

from app.ussd.engine import Prompt
from app.ussd.mpesa import flow as mpesa

SCREENS = [
    Prompt("deposit.amount", "deposit.amount", mpesa.deposit_amount, values=mpesa.phone_values),
    Prompt("withdraw.amount", "withdraw.amount", mpesa.withdraw_amount, values=mpesa.phone_values),
    Prompt(
        "withdraw.confirm", "withdraw.confirm", mpesa.withdraw_confirm, values=mpesa.confirm_values
    ),
]
