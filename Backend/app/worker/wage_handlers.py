"""The outbox kind 'wage_line': one pay-run line to pay (app/services/wages/
line_payments.py). There is no provider call: the payment is posted in the transaction
that settles the row (`record`), so a worker that died before it committed paid
nothing, and the row is resumed."""

from __future__ import annotations

from app.db.unit_of_work import UnitOfWork
from app.domain.records.admin import OutboxRow
from app.services.wages.line_payments import pay_line_in
from app.services.wages.pay_runs import LINE_KIND
from app.worker.handlers import Outcome, Verdict


class WageLineHandler:
    kind = LINE_KIND
    resumable = True  # the line's own state and key make a second run a no-op

    def perform(self, row: OutboxRow) -> Outcome:
        line_id = row.payload.get("line") if isinstance(row.payload, dict) else None
        if isinstance(line_id, bool) or not isinstance(line_id, int):
            return Outcome(Verdict.FAILED, "no line in the payload")
        return Outcome(Verdict.DONE, result=line_id)

    def record(self, uow: UnitOfWork, row: OutboxRow, outcome: Outcome) -> None:
        if outcome.verdict is Verdict.DONE:
            pay_line_in(uow, outcome.result)  # type: ignore[arg-type]
