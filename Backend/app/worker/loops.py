"""The worker's background loops beside the outbox: each runs in its own thread until
the stop event is set (the harambee job, pay-order expiry, merchant webhooks and the
bill checker, always; the M-Pesa checker, daily merchant payouts and M-Pesa's daily
reconciliation; settlement, the incoming watcher, reconciliation with Stellar)."""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from app.config import Settings
from app.db.pool import Database

log = logging.getLogger("paytrace.worker")


class Loop(Protocol):
    name: str

    def run_forever(self, stop: threading.Event) -> None:
        """Work until stop is set; never raises (log and carry on)."""
        ...


def build_loops(settings: Settings, database: Database) -> list[Loop]:
    """The loops this deployment runs: the M-Pesa checker when M-Pesa is on, the Stellar
    ones only when custody is on."""
    loops: list[Loop] = [
        _harambee(settings, database),
        _scheduled_payments(settings, database),
        _pay_order_expiry(settings, database),
        _webhooks(settings, database),
        _bill_checker(settings, database),
    ]
    if settings.mpesa_enabled:
        loops.append(_mpesa_checker(settings, database))
        loops.append(_paybill_checker(settings, database))
        loops.append(_daily_payouts(settings, database))
        reconciliation = _mpesa_reconciliation(settings, database)
        if reconciliation is not None:
            loops.append(reconciliation)
    if not settings.custody_enabled:
        return loops
    loops.append(_settler(settings, database))
    loops.append(_incoming_watcher(settings, database))
    if settings.reconciliation_interval_s > 0:
        loops.append(_reconciliation(settings, database))
    return loops


def _settler(settings: Settings, database: Database) -> Loop:
    # Imported here: the Stellar stack loads only where custody is on.
    from app.integrations.stellar import Horizon
    from app.services.custody import SecretBox, SystemAccounts
    from app.worker.settlement import Settler

    box = SecretBox.from_settings(settings)
    return Settler(
        database,
        Horizon.from_settings(settings),
        SystemAccounts.from_settings(settings, box),
        box,
        passphrase=settings.stellar_network_passphrase,
        envelope_ttl_s=settings.stellar_envelope_ttl_s,
        batch_window_s=settings.stellar_batch_window_s,
        lease_ttl_s=settings.worker_lease_ttl_s,
    )


def _mpesa_checker(settings: Settings, database: Database) -> Loop:
    from app.worker.mpesa import MpesaChecker

    return MpesaChecker.from_settings(settings, database)


def _mpesa_reconciliation(settings: Settings, database: Database) -> Loop | None:
    from app.worker.mpesa_reconciliation import MpesaReconciliationJob

    try:
        return MpesaReconciliationJob.from_settings(settings, database)
    except ValueError as exc:  # no statement to reconcile against
        log.warning("M-Pesa reconciliation is off", extra={"reason": str(exc)})
        return None


def _daily_payouts(settings: Settings, database: Database) -> Loop:
    from app.worker.merchant_payouts import DailyPayoutJob

    return DailyPayoutJob.from_settings(settings, database)


def _harambee(settings: Settings, database: Database) -> Loop:
    from app.worker.harambee import HarambeeJob

    return HarambeeJob.from_settings(settings, database)


def _scheduled_payments(settings: Settings, database: Database) -> Loop:
    from app.worker.schedules import ScheduledPaymentsJob

    return ScheduledPaymentsJob.from_settings(settings, database)


def _bill_checker(settings: Settings, database: Database) -> Loop:
    from app.worker.bills import BillChecker

    return BillChecker.from_settings(settings, database)


def _paybill_checker(settings: Settings, database: Database) -> Loop:
    from app.worker.bills import PaybillChecker

    return PaybillChecker.from_settings(settings, database)


def _pay_order_expiry(settings: Settings, database: Database) -> Loop:
    from app.worker.pay_orders import OrderExpiryJob

    return OrderExpiryJob.from_settings(settings, database)


def _webhooks(settings: Settings, database: Database) -> Loop:
    from app.worker.webhooks import WebhookDispatcher

    return WebhookDispatcher.from_settings(settings, database)


def _incoming_watcher(settings: Settings, database: Database) -> Loop:
    from app.worker.incoming import IncomingWatcher

    return IncomingWatcher.from_settings(settings, database)


def _reconciliation(settings: Settings, database: Database) -> Loop:
    from app.worker.reconciliation import ReconciliationJob

    return ReconciliationJob.from_settings(settings, database)


def start(loops: list[Loop], stop: threading.Event) -> list[threading.Thread]:
    """One daemon thread per loop, already started."""
    threads = []
    for loop in loops:
        thread = threading.Thread(target=loop.run_forever, args=(stop,), name=loop.name)
        thread.daemon = True
        thread.start()
        threads.append(thread)
        log.info("worker loop started", extra={"loop": loop.name})
    return threads
