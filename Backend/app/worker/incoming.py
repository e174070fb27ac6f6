"""The incoming watcher loop: follows the payments of each account PayTrace watches
(the treasury and every wallet) with stellar-sdk's `.stream()`, one stream per account
from its stored cursor (worker/incoming_streams.py), and hands each payment to
services/incoming_payments.py, which sorts it and records (or credits) it with the
moved cursor in one transaction.

It never reads the network's global `/payments`: on the public network that is every
payment on Stellar. New wallets are followed within `STELLAR_WATCH_INTERVAL_S` of
their creation. While an account's stream is down, that account is paged from its
stored cursor (`GET /accounts/{id}/payments`) every interval: the fallback, also what
`poll_once()` does for every account in one pass.

One watcher moves the cursors at a time (a lease, app/db/leases.py); should two ever
run, each cursor's row lock makes the second start again from where the first got to.
At every interval, under the same lease, the refunder (worker/stellar_refunds.py)
sends back what the watcher recorded owed back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

from stellar_sdk import Server

from app.config import Settings
from app.db import leases
from app.db.leases import Lease
from app.db.pool import Database
from app.integrations.stellar import Horizon
from app.services import incoming_payments, incoming_watch
from app.services.custody import SecretBox, SystemAccounts
from app.services.incoming_payments import CursorMoved, WatchPass, sort_payment
from app.worker.context import uow_factory
from app.worker.incoming_streams import AccountStreams, Dropped, Received
from app.worker.stellar_refunds import Refunder

log = logging.getLogger("paytrace.stellar.incoming")

PAGE_SIZE = 200  # Horizon's largest page
WALLET_BATCH = 1000


class IncomingWatcher:
    """The background loop; `follow()` streams, `poll_once()` is one paging pass."""

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
        # Sends back what the watcher records owed back, under the watcher's lease.
        self._refunder = refunder
        self._cursors: dict[str, str] = {}  # account -> the cursor this watcher stored last

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
                        self.follow(stop, lock.held)
                except Exception:
                    log.exception("incoming watcher failed; trying again")
                stop.wait(self._interval_s)
        finally:
            lock.release()

    def follow(self, stop: threading.Event, still_held: Callable[[], bool]) -> None:
        """Stream every watched account's payments until stop is set or `still_held()`
        (asked every interval) answers False."""
        streams = AccountStreams(self._server, self._page_size)
        self._cursors.clear()  # another watcher may have moved them since
        last_wallet, due = 0, 0.0
        try:
            while not stop.is_set():
                if time.monotonic() >= due:
                    if not still_held():
                        return
                    last_wallet = self._follow_new(streams, last_wallet)
                    for account in sorted(streams.down):
                        self._page_fallback(account, stop)
                    if self._refunder is not None:
                        self._refunder.send_owed()
                    due = time.monotonic() + self._interval_s
                event = streams.next(timeout_s=max(0.0, due - time.monotonic()))
                if isinstance(event, Received):
                    self._take(event.account, [event.record])
                elif isinstance(event, Dropped):
                    self._page_fallback(event.account, stop)
        finally:
            streams.close()

    def _page_fallback(self, account: str, stop: threading.Event) -> None:
        """Page an account whose stream is down; Horizon may be down too (next interval)."""
        try:
            self._page_account(account, stop)
        except Exception as exc:
            log.warning(
                "paging a stream's account failed; trying again",
                extra={"account": account, "error": type(exc).__name__},
            )

    def _follow_new(self, streams: AccountStreams, last_wallet: int) -> int:
        """Open the streams of the treasury and of wallets created since last_wallet."""
        if streams.followed == 0:
            streams.follow(self._treasury, self._cursor(self._treasury))
        for wallet_id, address in self._wallets(last_wallet):
            streams.follow(address, self._cursor(address))
            last_wallet = wallet_id
        return last_wallet

    def _wallets(self, after: int) -> Iterator[tuple[int, str]]:
        while batch := incoming_watch.wallets_after(self._uow(), after, WALLET_BATCH):
            yield from batch
            after = batch[-1][0]

    def poll_once(self, stop: threading.Event | None = None) -> WatchPass:
        """Page every watched account's payments from its stored cursor to the newest."""
        self._cursors.clear()
        done = self._page_account(self._treasury, stop)
        for _, address in self._wallets(0):
            done += self._page_account(address, stop)
        return done

    def _page_account(self, account: str, stop: threading.Event | None) -> WatchPass:
        done = WatchPass()
        while stop is None or not stop.is_set():
            page = (
                self._server.payments()
                .for_account(account)
                .join("transactions")  # each payment's memo, which may name a pay order
                .cursor(self._cursor(account))
                .order(desc=False)
                .limit(self._page_size)
                .call()
            )
            records = page["_embedded"]["records"]
            done += self._take(account, records)
            if len(records) < self._page_size:
                break
        return done

    # ---- records ----------------------------------------------------------------------

    def _take(self, account: str, records: list[dict]) -> WatchPass:
        """Record each of account's records after its cursor, moving the cursor."""
        done = WatchPass()
        while True:
            cursor = self._cursor(account)
            fresh = [r for r in records if int(r["paging_token"]) > int(cursor)]
            if not fresh:
                return done
            try:
                return done + self._record(account, cursor, fresh)
            except CursorMoved as moved:
                log.info("another watcher moved the cursor; resuming from it")
                done += moved.done
                self._cursors.pop(account, None)

    def _record(self, account: str, cursor: str, records: list[dict]) -> WatchPass:
        name = incoming_watch.account_cursor(account)
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
                    self._uow(),
                    cursor,
                    payment.paging_token,
                    payment,
                    now=self._clock(),
                    cursor=name,
                )
            except CursorMoved as moved:
                moved.done = done
                raise
            cursor = self._cursors[account] = payment.paging_token
            if recorded is not None:
                done += WatchPass.of(recorded)
        last = str(records[-1]["paging_token"])
        if last != cursor:
            incoming_payments.record(
                self._uow(), cursor, last, None, now=self._clock(), cursor=name
            )
            self._cursors[account] = last
        return done

    def _cursor(self, account: str) -> str:
        if account not in self._cursors:
            self._cursors[account] = incoming_watch.account_start(self._uow(), account)
        return self._cursors[account]
