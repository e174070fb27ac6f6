"""The M-Pesa checker: a worker loop that settles what no callback settled.

Every MPESA_CHECK_INTERVAL_S it claims (FOR UPDATE SKIP LOCKED, so any number of
workers may run it) the deposits and withdrawals whose check is due, and:

* a deposit prompted and unanswered after MPESA_STK_QUERY_AFTER_S, or whose callback
  arrived ('confirming'), is asked about with the STK query and settled from its
  answer's ResultCode; a query answered with an HTTP error decides nothing (counted,
  asked again with back-off, an alert logged after MPESA_STK_QUERY_ALERT_AFTER); one
  whose push never went out is closed (failed, or unknown when its answer was lost);
* a withdrawal with no result after MPESA_RESULT_WAIT_S, or whose result or queue
  timeout arrived, is asked about with a transaction status query (stored in
  mpesa_status_queries: its answer comes by callback and is matched by those ids);
  one M-Pesa refused outright is released. While its B2C request may still be sent,
  nothing is released;
* a pay order's paybill payment (C2B) whose confirmation arrived is asked about with a
  transaction status query by its receipt (stored like a withdrawal's), and a
  merchant's push for an order whose callback did not come with an STK query;
* M-Pesa callbacks whose processing failed are processed again.

Calls to Daraja are made outside any transaction: a claim moves the row's next check
forward (a lease), so a worker that dies mid-call only delays it. What the checker
writes around those calls is services/mpesa/checks.py; how a deposit or withdrawal
ends is stk_results.py and payouts.py.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from app.config import Settings
from app.db.pool import Database
from app.domain.records.mpesa import Deposit, OrderPayment, OrderPush, Withdrawal
from app.errors import ServiceUnavailable
from app.integrations.daraja import Daraja, DarajaClient, DarajaError
from app.integrations.daraja_payloads import StkOutcome
from app.services.mpesa import (
    checks,
    inbound,
    order_payments,
    order_pushes,
    payouts,
    stk_results,
)
from app.worker.context import uow_factory
from app.worker.mpesa_handlers import CallbackLinks

log = logging.getLogger("paytrace.mpesa")

BATCH = 20
# An STK query that finds no answer yet waits this many query intervals at most.
MAX_QUERY_BACKOFF = 8


class MpesaChecker:
    name = "mpesa-checker"

    def __init__(
        self,
        database: Database,
        daraja: Daraja,
        links: CallbackLinks,
        *,
        policy: payouts.CheckPolicy,
        stk_query_after_s: float,
        interval_s: float = 2.0,
        query_alert_after: int = 5,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._uow = uow_factory(database)
        self._daraja = daraja
        self._links = links
        self._policy = policy
        self._stk_query_after_s = stk_query_after_s
        self._interval_s = interval_s
        self._query_alert_after = query_alert_after
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, database: Database) -> MpesaChecker:
        return cls(
            database,
            DarajaClient.from_settings(settings),
            CallbackLinks.from_settings(settings),
            policy=payouts.CheckPolicy.from_settings(settings),
            stk_query_after_s=settings.mpesa_stk_query_after_s,
            interval_s=settings.mpesa_check_interval_s,
            query_alert_after=settings.mpesa_stk_query_alert_after,
        )

    def run_forever(self, stop: threading.Event) -> None:
        """Check whatever is due every interval until stop is set; never raises."""
        while not stop.is_set():
            try:
                self.run_once()
            except ServiceUnavailable:
                log.warning("database unavailable; M-Pesa checks wait")
            except Exception:
                log.exception("M-Pesa check failed; trying again")
            stop.wait(self._interval_s)

    def run_once(self) -> int:
        """One pass: due deposits, withdrawals and order payments, stale callbacks;
        returns how many."""
        done = sum(self._check_deposit(d) for d in self._claim(deposits_due=True))
        done += sum(self._check_withdrawal(w) for w in self._claim(deposits_due=False))
        done += sum(self._check_order_payment(p) for p in self._claim_order_payments())
        done += sum(self._check_order_push(p) for p in self._claim_order_pushes())
        return done + inbound.process_stale(self._uow(), policy=self._policy, now=self._clock())

    def _claim(self, *, deposits_due: bool) -> list:
        now = self._clock()
        lease = now + timedelta(seconds=self._policy.status_interval_s)
        claim = checks.claim_due_deposits if deposits_due else checks.claim_due_withdrawals
        return claim(self._uow(), now=now, lease_until=lease, limit=BATCH)

    # ---- deposits -----------------------------------------------------------------------

    def _check_deposit(self, deposit: Deposit) -> int:
        if deposit.checkout_request_id is None:
            return self._close_unpushed(deposit)
        try:
            result = self._daraja.stk_query(deposit.checkout_request_id)
        except DarajaError as exc:
            if exc.being_processed:  # the customer has not answered yet
                self._query_later(deposit)
                return 0
            # A 400, a 500, a timeout: the query failed, not the payment. Only an
            # explicit ResultCode ends a deposit; this one is asked again later.
            self._query_failed(deposit, exc)
            return 0
        outcome = StkOutcome(
            checkout_request_id=deposit.checkout_request_id,
            merchant_request_id=deposit.merchant_request_id or "",
            result_code=result.result_code,
            result_desc=result.result_desc,
            source="query",
        )
        verdict = stk_results.settle(self._uow(), outcome, now=self._clock())
        log.info(
            "deposit settled by query", extra={"deposit": deposit.reference, "outcome": verdict}
        )
        return 1

    def _query_failed(self, deposit: Deposit, exc: DarajaError) -> None:
        steps = min(2 ** (deposit.query_errors + 1), MAX_QUERY_BACKOFF)
        at = self._clock() + timedelta(seconds=self._stk_query_after_s * steps / 2)
        errors = checks.stk_query_failed(self._uow(), deposit.id, error=str(exc), next_check_at=at)
        alert = errors >= self._query_alert_after
        log.log(
            logging.ERROR if alert else logging.WARNING,
            "stk query failed; asking again later",
            extra={
                "deposit": deposit.reference,
                "error": str(exc),
                "query_errors": errors,
                "alert": alert,
            },
        )

    def _query_later(self, deposit: Deposit) -> None:
        steps = min(deposit.queries + 1, MAX_QUERY_BACKOFF)
        at = self._clock() + timedelta(seconds=self._stk_query_after_s * steps / 2)
        checks.stk_query_later(self._uow(), deposit.id, next_check_at=at)

    def _close_unpushed(self, deposit: Deposit) -> int:
        """A deposit whose push was never answered: wait while it may still be made,
        else close it (the push handler normally has)."""
        return int(checks.close_unpushed(self._uow(), deposit.reference))

    # ---- withdrawals --------------------------------------------------------------------

    def _check_withdrawal(self, withdrawal: Withdrawal) -> int:
        if withdrawal.status == "held" and withdrawal.result_code == "refused":
            payouts.release_refused(self._uow(), withdrawal, policy=self._policy, now=self._clock())
            return 1
        if withdrawal.status == "held" and checks.b2c_may_still_be_sent(
            self._uow(), withdrawal.originator_conversation_id
        ):
            return 0  # its B2C request is still to be made; the lease moved the check on
        try:
            accepted = self._daraja.transaction_status(
                originator_conversation_id=withdrawal.originator_conversation_id,
                occasion=withdrawal.reference,
                result_url=self._links.status_result,
                timeout_url=self._links.status_timeout,
            )
        except DarajaError as exc:
            log.warning(
                "transaction status query not made; trying later",
                extra={"withdrawal": withdrawal.reference, "error": str(exc)},
            )
            return 0
        checks.status_query_asked(
            self._uow(),
            withdrawal.id,
            conversation_id=accepted.conversation_id,
            originator_conversation_id=accepted.originator_conversation_id,
        )
        inbound.answer_early(self._uow(), accepted.conversation_id, policy=self._policy, now=None)
        log.info("transaction status asked", extra={"withdrawal": withdrawal.reference})
        return 1

    # ---- order payments (C2B) -----------------------------------------------------------

    def _claim_order_payments(self) -> list[OrderPayment]:
        return order_payments.claim_due(
            self._uow(), now=self._clock(), lease_s=self._policy.status_interval_s, limit=BATCH
        )

    def _check_order_payment(self, payment: OrderPayment) -> int:
        """Ask M-Pesa about a confirmed paybill payment by its receipt (or, being
        returned, about its reversal); the answer (a callback) settles it. A query not
        made is asked again after the lease."""
        # A payment being returned: its reversal, by the id M-Pesa gave it.
        lookup = (
            {"originator_conversation_id": payment.reversal_originator_id or ""}
            if payment.status == "returning"
            else {"transaction_id": payment.trans_id}
        )
        try:
            accepted = self._daraja.transaction_status(
                **lookup,
                occasion=payment.bill_ref,
                result_url=self._links.status_result,
                timeout_url=self._links.status_timeout,
            )
        except DarajaError as exc:
            log.warning(
                "transaction status query not made; trying later",
                extra={"trans_id": payment.trans_id, "error": str(exc)},
            )
            return 0
        order_payments.status_query_asked(
            self._uow(),
            payment.id,
            conversation_id=accepted.conversation_id,
            originator_conversation_id=accepted.originator_conversation_id,
        )
        inbound.answer_early(self._uow(), accepted.conversation_id, policy=self._policy, now=None)
        return 1

    def _claim_order_pushes(self) -> list[OrderPush]:
        return order_pushes.claim_due(
            self._uow(), now=self._clock(), lease_s=self._stk_query_after_s, limit=BATCH
        )

    def _check_order_push(self, push: OrderPush) -> int:
        """A merchant's push with no callback: asked with an STK query, as a deposit is;
        an error or "being processed" decides nothing (the lease asks again)."""
        assert push.checkout_request_id is not None  # pending: M-Pesa took it
        try:
            result = self._daraja.stk_query(push.checkout_request_id)
        except DarajaError as exc:
            if not exc.being_processed:
                log.warning("order push query failed", extra={"push": push.id, "error": str(exc)})
            return 0
        order_pushes.settle_by_query(
            self._uow(),
            push.id,
            result_code=result.result_code,
            result_desc=result.result_desc,
            now=self._clock(),
        )
        return 1
