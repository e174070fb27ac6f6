"""Every kind of scheduled payment and its executor (the CHECK on
scheduled_payments.kind holds the same names)."""

from __future__ import annotations

from app.services.schedules.bill_executors import BillExecutor
from app.services.schedules.executors import Executor, TransferExecutor, WageExecutor

EXECUTORS: dict[str, Executor] = {
    "transfer": TransferExecutor(),
    "wage": WageExecutor(),
    "bill": BillExecutor("bill"),
    "airtime": BillExecutor("airtime"),
}
