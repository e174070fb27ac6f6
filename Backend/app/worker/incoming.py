"""The incoming watcher loop: pages Horizon's `GET /payments` (every payment on the
network, in Horizon's total order) from the stored cursor, with stellar-sdk's call
builder, and hands each page to services/incoming_payments.py, which sorts each payment
and records (or credits) it with the moved cursor in one transaction.

One watcher moves the cursor at a time (a lease, app/db/leases.py); should two ever run, the
cursor's row lock makes the second start again from where the first got to. After
each pass, under the same lease, the refunder (worker/stellar_refunds.py) sends back
what the watcher recorded owed back.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from stellar_sdk import Server

from app.config import Settings
from app.db import leases
from app.db.leases import Lease
from app.db.pool import Database
from app.integrations.stellar import Horizon
from app.services import incoming_payments
from app.services.custody import SecretBox, SystemAccounts
from app.services.incoming_payments import CursorMoved, WatchPass, sort_payment
from app.worker.context import uow_factory
from app.worker.stellar_refunds import Refunder

log = logging.getLogger("paytrace.stellar.incoming")

PAGE_SIZE = 200  # Horizon's largest page


class IncomingWatcher:
    """The background loop; `poll_once()` is one pass up to the network's newest payment."""

    name = "stellar-incoming"

    def __init__(
        self,
        database: Database,
        server: Server,
        system: SystemAccounts,
        *,
        interval_s: float = 2.0,
        page_size: int = PAGE_SIZE,
        lease_ttl_s: float = leases.DEFAULT_TTL_S,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        refunder: Refunder | None = None,
    ) -> None:
        self._database = database
        self._lease_ttl_s = lease_ttl_s
        self._uow = uow_factory(database)
        self._server = server
        self._asset = system.asset
        self._treasury = system.treasury.public_key
        # Accounts whose payments PayTrace makes (the issuer is not one: a KES payment
        # from it that PayTrace did not sign is KES minted outside PayTrace, credited).
        self._own_accounts = frozenset(
            [system.treasury.public_key, system.fee.public_key]
            + [channel.public_key for channel in system.channels]
        )
        self._interval_s = interval_s
        self._page_size = page_size
        self._clock = clock
        # Sends back what the watcher records owed back, under the watcher's lock.
        self._refunder = refunder

    @classmethod
    def from_settings(cls, settings: Settings, database: Database) -> IncomingWatcher:
        system = SystemAccounts.from_settings(settings, SecretBox.from_settings(settings))
        horizon = Horizon.from_settings(settings)
        refunder = Refunder(
            database,
            horizon,
            system,
            passphrase=settings.stellar_network_passphrase,
            ttl=timedelta(seconds=settings.stellar_envelope_ttl_s),
        )
        return cls(
            database,
            horizon.server,
            system,
            interval_s=settings.stellar_watch_interval_s,
            lease_ttl_s=settings.worker_lease_ttl_s,
            refunder=refunder,
        )

    # ---- the loop ---------------------------------------------------------------------

    def run_forever(self, stop: threading.Event) -> None:
        """Watch while this process holds the watcher's lease; never raises."""
        lock = Lease(self._database, leases.INCOMING, ttl_s=self._lease_ttl_s)
        try:
            while not stop.is_set():
                try:
                    if lock.held():
                        self.poll_once(stop)
                        if self._refunder is not None and lock.held():
                            self._refunder.send_owed()
                except Exception:
                    log.exception("incoming watcher pass failed; trying again")
                stop.wait(self._interval_s)
        finally:
            lock.release()

    def poll_once(self, stop: threading.Event | None = None) -> WatchPass:
        """Read every payment after the stored cursor, page by page, until the newest."""
        done = WatchPass()
        cursor = self._stored_cursor()
        while stop is None or not stop.is_set():
            page = (
                self._server.payments()
                .join("transactions")  # each payment's memo, which may name a pay order
                .cursor(cursor)
                .order(desc=False)
                .limit(self._page_size)
                .call()
            )
            records = page["_embedded"]["records"]
            if not records:
                break
            try:
                cursor, did = self._page(cursor, records)
            except CursorMoved as moved:
                log.info("another watcher moved the cursor; resuming from it")
                done += moved.done
                cursor = self._stored_cursor()
                continue
            done += did
            if len(records) < self._page_size:
                break
        return done

    # ---- pages ------------------------------------------------------------------------

    def _page(self, cursor: str, records: list[dict]) -> tuple[str, WatchPass]:
        known = incoming_payments.known_parties(self._uow(), records)
        done = WatchPass()
        for record in records:
            payment = sort_payment(
                record,
                known,
                asset=self._asset,
                treasury=self._treasury,
                own_accounts=self._own_accounts,
            )
            if payment is None:
                continue  # the next commit moves the cursor past it
            try:
                recorded = incoming_payments.record(
                    self._uow(), cursor, payment.paging_token, payment, now=self._clock()
                )
            except CursorMoved as moved:
                moved.done = done
                raise
            cursor = payment.paging_token
            if recorded is not None:
                done += WatchPass.of(recorded)
        last = str(records[-1]["paging_token"])
        if last != cursor:
            incoming_payments.record(self._uow(), cursor, last, None, now=self._clock())
        return last, done

    # ---- the cursor -------------------------------------------------------------------

    def _stored_cursor(self) -> str:
        stored = incoming_payments.stored_cursor(self._uow())
        if stored is not None:
            return stored
        stored = incoming_payments.start_cursor(self._uow(), self._start_cursor())
        log.info("incoming watcher starts", extra={"cursor": stored})
        return stored

    def _start_cursor(self) -> str:
        """Where a first watcher starts: the ledger of PayTrace's first activation (no
        wallet can be paid before it exists), or the network's newest ledger if none
        has applied yet. Horizon is asked first, so an activation applied meanwhile is
        in a later ledger."""
        newest = self._server.ledgers().order(desc=True).limit(1).call()
        records = newest["_embedded"]["records"]
        first = incoming_payments.first_activation_ledger(self._uow())
        ledger = first if first is not None else (records[0]["sequence"] if records else 0)
        return str(int(ledger) << 32)  # the paging token before the ledger's operations
