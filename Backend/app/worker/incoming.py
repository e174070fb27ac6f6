"""The incoming watcher: KES paid into a PayTrace wallet from outside PayTrace, credited
to the ledger exactly once and confirmed by SMS.

It pages Horizon's `GET /payments` (every payment on the network, in Horizon's total
order) from a stored cursor, with stellar-sdk's call builder. Each payment of
PayTrace's asset, or of anything to a PayTrace wallet or the treasury, is recorded in
`stellar_incoming`: credited, or ignored with its reason. A credit is a `cash_in`
journal transaction from the `stellar_clearing` account (already settled on-chain:
origin 'incoming'), with its SMS in the outbox. The record, the credit and the moved
cursor commit in one database transaction under a lock on the cursor's row, so a
crash can neither credit twice nor skip, and two watchers can never both move it.

PayTrace holds every wallet's keys, so a payment PayTrace did not sign is from
outside. PayTrace's own envelopes are saved in `stellar_transactions` before they are
submitted: any payment whose transaction hash is there is PayTrace's own (already in
the ledger) and is ignored.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from stellar_sdk import Asset, Server

from app.config import Settings
from app.db import advisory
from app.db.advisory import SessionLock
from app.db.pool import Database
from app.db.repositories.incoming import IncomingPayment, IncomingRepository
from app.db.repositories.ledger import ReferenceTaken
from app.db.unit_of_work import UnitOfWork
from app.domain.money import format_kes, new_reference
from app.errors import ServiceUnavailable
from app.integrations.stellar import Horizon, cents_to_amount, to_stroops
from app.services.custody import SecretBox, SystemAccounts
from app.services.ledger import request_hash, sms_time
from app.services.notifications import sms_message

log = logging.getLogger("paytrace.stellar.incoming")

CURSOR_NAME = "payments"
PAGE_SIZE = 200  # Horizon's largest page
# Payment records that move an asset to `to`; the path payments' `amount` and asset are
# what arrived. (create_account and account_merge move XLM only: never credited.)
PAYMENT_TYPES = frozenset({"payment", "path_payment_strict_receive", "path_payment_strict_send"})
STROOPS_PER_CENT = to_stroops(cents_to_amount(1))
_REFERENCE_DRAWS = 5

NOT_A_WALLET = "not a wallet"
TO_TREASURY = "to treasury: operator"
FROM_PAYTRACE = "from a PayTrace account: operator"


class CursorMoved(Exception):
    """Another watcher moved the cursor since this one read it: start again from it.
    `done` is what this watcher recorded on the page before that."""

    def __init__(self, stored: str | None) -> None:
        super().__init__(stored)
        self.done = WatchPass()


@dataclass(frozen=True)
class WatchPass:
    """What one pass did: payments recorded, of which credited and ignored."""

    seen: int = 0
    credited: int = 0
    ignored: int = 0

    def __add__(self, other: WatchPass) -> WatchPass:
        return WatchPass(
            self.seen + other.seen, self.credited + other.credited, self.ignored + other.ignored
        )


@dataclass(frozen=True)
class Sorted:
    """A payment the watcher records: reason None means credit user_id's wallet."""

    operation_id: str
    paging_token: str
    tx_hash: str
    from_address: str
    to_address: str
    cents: int  # rounded up when there is a fraction of a cent (the reason says so)
    reason: str | None
    user_id: int | None


@dataclass(frozen=True)
class Known:
    """What the database knows about one page's addresses and hashes."""

    wallets: dict[str, int]  # address -> user id
    own_hashes: set[str]


def shorten(address: str) -> str:
    """GABC...WXYZ: enough of a Stellar address to recognise it in an SMS."""
    return f"{address[:4]}...{address[-4:]}"


def sort_payment(
    record: dict, known: Known, *, asset: Asset, treasury: str, own_accounts: frozenset[str]
) -> Sorted | None:
    """What the watcher does with one /payments record: None when it is none of
    PayTrace's business (another asset between accounts PayTrace does not hold)."""
    if record.get("type") not in PAYMENT_TYPES or record.get("transaction_successful") is False:
        return None
    to, sender, amount = record["to"], record["from"], record["amount"]
    ours = (
        record.get("asset_type") != "native"
        and record.get("asset_code") == asset.code
        and record.get("asset_issuer") == asset.issuer
    )
    user_id = known.wallets.get(to)
    if not ours and user_id is None and to != treasury:
        return None
    if record["transaction_hash"] in known.own_hashes:
        # PayTrace's own settlement: already in the ledger, and already recorded in
        # stellar_settlements; a row here for each would double every payment's writes.
        return None
    cents, fraction = divmod(to_stroops(amount), STROOPS_PER_CENT)
    if not ours:
        name = "XLM" if record.get("asset_type") == "native" else _asset_name(record)
        reason = f"not our asset: {amount} {name}"
    elif to == treasury:
        reason = TO_TREASURY
    elif user_id is None:
        reason = NOT_A_WALLET
    elif sender in known.wallets or sender in own_accounts:
        # PayTrace signs for these accounts, and every envelope it signs is saved first.
        reason = FROM_PAYTRACE
    elif fraction:
        reason = f"amount not whole cents: {amount} {asset.code}"
    else:
        reason = None
    return Sorted(
        operation_id=str(record["id"]),
        paging_token=str(record["paging_token"]),
        tx_hash=record["transaction_hash"],
        from_address=sender,
        to_address=to,
        cents=max(1, cents + (1 if fraction else 0)),
        reason=reason,
        user_id=user_id if reason is None else None,
    )


def _asset_name(record: dict) -> str:
    return f"{record.get('asset_code')}:{record.get('asset_issuer')}"


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
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._database = database
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

    @classmethod
    def from_settings(cls, settings: Settings, database: Database) -> IncomingWatcher:
        system = SystemAccounts.from_settings(settings, SecretBox.from_settings(settings))
        return cls(
            database,
            Horizon.from_settings(settings).server,
            system,
            interval_s=settings.stellar_watch_interval_s,
        )

    # ---- the loop ---------------------------------------------------------------------

    def run_forever(self, stop: threading.Event) -> None:
        """Watch while this process holds the watcher's lock; never raises."""
        lock = SessionLock(self._database.dsn, advisory.INCOMING, name="incoming-watcher")
        try:
            while not stop.is_set():
                try:
                    if lock.held():
                        self.poll_once(stop)
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
        known = self._known(records)
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
                recorded = self._commit(cursor, payment.paging_token, payment)
            except CursorMoved as moved:
                moved.done = done
                raise
            cursor = payment.paging_token
            if recorded:
                credited = payment.reason is None
                done += WatchPass(1, int(credited), int(not credited))
        last = str(records[-1]["paging_token"])
        if last != cursor:
            self._commit(cursor, last, None)
        return last, done

    def _known(self, records: list[dict]) -> Known:
        """Wallet addresses and PayTrace's own hashes among the page's payments. Read
        outside the commits: a wallet exists before its account can be paid, and an
        envelope is saved before it is submitted, so neither answer can change."""
        payments = [r for r in records if r.get("type") in PAYMENT_TYPES]
        if not payments:
            return Known({}, set())
        addresses = sorted({r["to"] for r in payments} | {r["from"] for r in payments})
        hashes = sorted({r["transaction_hash"] for r in payments})
        with UnitOfWork(self._database) as uow:
            repo = IncomingRepository(uow.conn)
            return Known(repo.wallet_owners(addresses), repo.own_hashes(hashes))

    def _commit(self, expected: str, token: str, payment: Sorted | None) -> bool:
        """Record payment (and credit it), and move the cursor from expected to token, in
        one transaction; True when the payment was recorded now (False: seen before)."""
        for _ in range(_REFERENCE_DRAWS):
            try:
                with UnitOfWork(self._database) as uow:
                    repo = IncomingRepository(uow.conn)
                    stored = repo.cursor(CURSOR_NAME, for_update=True)
                    if stored != expected:
                        raise CursorMoved(stored)
                    recorded = payment is not None and not repo.seen(payment.operation_id)
                    if recorded:
                        assert payment is not None
                        transaction_id = None
                        if payment.reason is None:
                            transaction_id = self._credit(uow, payment)
                        else:
                            self._log_ignored(payment)
                        repo.add(
                            IncomingPayment(
                                operation_id=payment.operation_id,
                                tx_hash=payment.tx_hash,
                                from_address=payment.from_address,
                                to_address=payment.to_address,
                                amount=payment.cents,
                                outcome="ignored" if transaction_id is None else "credited",
                                reason=payment.reason,
                                transaction_id=transaction_id,
                            )
                        )
                    repo.set_cursor(CURSOR_NAME, token)
                    uow.commit()
                if recorded and payment is not None and payment.reason is None:
                    log.info(
                        "incoming payment credited",
                        extra={"operation_id": payment.operation_id, "amount": payment.cents},
                    )
                return recorded
            except ReferenceTaken:
                continue
        raise ServiceUnavailable("could not draw a free transaction reference")

    def _credit(self, uow: UnitOfWork, payment: Sorted) -> int:
        """Post the credit from stellar_clearing, its SMS with it; returns its id."""
        assert payment.user_id is not None
        locked = uow.ledger.accounts(user_ids=[payment.user_id], codes=["stellar_clearing"])
        wallet = next(a for a in locked if a.user_id == payment.user_id)
        clearing = next(a for a in locked if a.code == "stellar_clearing")
        assert wallet.phone is not None
        amount, now, reference = payment.cents, self._clock(), new_reference()
        balance = wallet.balance + amount
        return uow.ledger.post(
            reference=reference,
            kind="cash_in",
            amount=amount,
            fee=0,
            idempotency_key=f"stellar-in:{payment.operation_id}",
            request_hash=request_hash(
                kind="stellar_in",
                operation_id=payment.operation_id,
                to=payment.to_address,
                amount=amount,
            ),
            legs=[(clearing.id, -amount), (wallet.id, amount)],
            channel="system",
            created_at=now,
            note=f"Stellar {payment.from_address}",
            messages=(
                sms_message(
                    to=wallet.phone,
                    template="stellar_received",
                    language=wallet.language or "en",
                    dedupe_key=f"journal:{reference}:{payment.user_id}",
                    reference=reference,
                    amount=format_kes(amount),
                    sender=shorten(payment.from_address),
                    when=sms_time(now),
                    balance=format_kes(balance),
                ),
            ),
            on_chain_hash=payment.tx_hash,
        )

    def _log_ignored(self, payment: Sorted) -> None:
        operator = payment.reason is not None and (
            payment.reason.endswith(": operator") or payment.reason.startswith("amount not")
        )
        (log.warning if operator else log.info)(
            "incoming payment not credited",
            extra={
                "operation_id": payment.operation_id,
                "tx_hash": payment.tx_hash,
                "to": payment.to_address,
                "reason": payment.reason,
            },
        )

    # ---- the cursor -------------------------------------------------------------------

    def _stored_cursor(self) -> str:
        with UnitOfWork(self._database) as uow:
            stored = IncomingRepository(uow.conn).cursor(CURSOR_NAME)
        if stored is not None:
            return stored
        start = self._start_cursor()
        with UnitOfWork(self._database) as uow:
            stored = IncomingRepository(uow.conn).start_cursor(CURSOR_NAME, start)
            uow.commit()
        log.info("incoming watcher starts", extra={"cursor": stored})
        return stored

    def _start_cursor(self) -> str:
        """Where a first watcher starts: the ledger of PayTrace's first activation (no
        wallet can be paid before it exists), or the network's newest ledger if none
        has applied yet. Horizon is asked first, so an activation applied meanwhile is
        in a later ledger."""
        newest = self._server.ledgers().order(desc=True).limit(1).call()
        records = newest["_embedded"]["records"]
        with UnitOfWork(self._database) as uow:
            first = IncomingRepository(uow.conn).first_activation_ledger()
        ledger = first if first is not None else (records[0]["sequence"] if records else 0)
        return str(int(ledger) << 32)  # the paging token before the ledger's operations
