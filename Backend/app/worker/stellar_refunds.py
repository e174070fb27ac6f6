"""The refunder: sends back on-chain the Stellar payments owed back to their senders
(services/stellar_refunds.py decides and records; this loop only signs when asked,
submits and asks the network). It runs in the incoming watcher's loop, under its lock:
one refunder at a time, so the treasury's sequence, which only refunds use, is its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from app.db.pool import Database
from app.domain.records.stellar_refunds import PENDING
from app.integrations.stellar import StellarNetwork
from app.services import settlement_expiry, stellar_refunds
from app.services.custody import SystemAccounts
from app.services.stellar_refunds import Signer, Step
from app.worker.context import uow_factory

log = logging.getLogger("paytrace.stellar.refunds")

BATCH = 20  # refunds a pass sends at most, one after the other


class Refunder:
    def __init__(
        self,
        database: Database,
        network: StellarNetwork,
        system: SystemAccounts,
        *,
        passphrase: str,
        ttl: timedelta,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._uow = uow_factory(database)
        self._network = network
        self._signer = Signer(system.treasury, system.asset, passphrase, ttl)
        self._clock = clock

    def send_owed(self, batch: int = BATCH) -> int:
        """Send (or resend) up to `batch` refunds, oldest first; returns how many the
        network applied. Stops at the first one without an answer (tried again next
        pass). Raises StellarUnavailable, ServiceUnavailable."""
        sent = 0
        for _ in range(batch):
            refund = stellar_refunds.next_refund(self._uow())
            if refund is None:
                break
            if refund.status == PENDING:
                state = self._network.account(self._signer.treasury.public_key)
                assert state is not None  # the treasury exists wherever custody is on
                refund = stellar_refunds.sign(
                    self._uow(), refund, self._signer, state.sequence, self._clock()
                )
            assert refund.envelope_xdr is not None and refund.tx_hash is not None
            result = self._network.submit(refund.envelope_xdr)
            verdict = None
            if result.outcome in stellar_refunds.ASK_THE_NETWORK:
                bounds = stellar_refunds.bounds(refund, self._signer.passphrase)
                verdict = settlement_expiry.fate(self._network, bounds)
            step = stellar_refunds.record_answer(self._uow(), refund, result, verdict)
            log.log(
                logging.WARNING if step is Step.FAILED else logging.INFO,
                "stellar refund " + step,
                extra={
                    "refund_id": refund.id,
                    "operation_id": refund.operation_id,
                    "tx_hash": refund.tx_hash,
                },
            )
            if step is Step.RESEND:
                break
            sent += step is Step.SENT
        return sent
