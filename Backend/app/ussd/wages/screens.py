"""My account > Pay worker, declared as data (app/ussd/flow.py adds it; My pay is one
END, an action of the account menu). The handlers are in flow.py.

My account 9. Pay worker -> "1. Achieng" (5 at most) -> pick
    -> "Pay Achieng net KES 14,462 / NSSF 967 SHIF 443 AHL 242 / You pay KES 17,322.
        Enter PIN" -> END "Paid: Achieng gets KES 14,462 and a payslip by SMS."
"""

from __future__ import annotations

from app.ussd.engine import Prompt
from app.ussd.wages import flow as wages

SCREENS = [
    Prompt("wg.workers", "wg.workers", wages.worker_chosen, values=wages.workers_values),
    Prompt("wg.confirm", "wg.confirm", wages.pay_confirm, values=wages.confirm_values),
]
