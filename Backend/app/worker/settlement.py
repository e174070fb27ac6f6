"""The settler: mirrors committed ledger movements on Stellar, each exactly once.

The loop only: the settlement lock, the channels in flight with their sequence numbers,
the submissions running on threads, when to resend. What it decides and records are
services (app/services/): settlement_rounds (the work waiting, a round's plan),
settlement_submission (sign an envelope, seeds opened by custody only to sign, and save
it with what it carries before it is sent), settlement_answers (record the network's
answer: applied, retry, bad sequence / too late, refused; dead only on the network's
word, settlement_expiry, never this machine's clock). docs/stellar.md tells the whole.

Each round signs one envelope per batch with a free channel account as its source (it
pays the fee; users never hold XLM), so many users settle in the same ledger;
activations go first. After a crash every envelope still 'signed' is resent as it is
before anything new is built. One settler runs per database (a lease, app/db/leases.py), because
the plan relies on seeing every envelope in flight.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.db import leases
from app.db.leases import Lease
from app.db.pool import Database
from app.domain.records.settlement import SignedEnvelope
from app.integrations.stellar import (
    StellarNetwork,
    StellarUnavailable,
    Submission,
    SubmitResult,
)
from app.services import settlement_answers, settlement_rounds, settlement_submission
from app.services.custody import SecretBox, SystemAccounts
from app.services.settlement_answers import Step
from app.services.settlement_submission import Signing
from app.worker.context import UowFactory, uow_factory

log = logging.getLogger("paytrace.settlement")

# One settler per database (app/db/leases.py): a standby asks for the lease this
# often, and the holder checks it still has it this often.
LOCK_RETRY_S = 1.0
LOCK_CHECK_S = 1.0
RETRY_BASE_S = 1.0
RETRY_CAP_S = 30.0


@dataclass
class InFlight:
    envelope: SignedEnvelope
    purpose: str = "settlement"  # or 'activations'
    future: Future[SubmitResult] | None = None
    retry_at: float = 0.0  # monotonic time before which it is not resent
    attempts: int = 0
    # The network said it could still apply: resend once before asking it again.
    live_by_network: bool = False


class Settler:
    """The settlement loop over one database. It takes the `Database` because it holds
    the settlement lock on it, and hands each service call a fresh `UnitOfWork` from
    `self._uow`, as the API hands `runtime.uow()`: one call, one transaction; the loop
    itself opens none and calls no repository. Services take a unit of work, not the
    database, so that they are unit-tested on a fake one like every other service."""

    name = "stellar-settlement"

    def __init__(
        self,
        database: Database,
        network: StellarNetwork,
        system: SystemAccounts,
        box: SecretBox,
        *,
        passphrase: str,
        envelope_ttl_s: int,
        poll_interval_s: float = 0.05,
        batch_window_s: float = 0.0,
        retry_base_s: float = RETRY_BASE_S,
        lease_ttl_s: float = leases.DEFAULT_TTL_S,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not system.channels:
            raise ValueError("settlement needs at least one channel account")
        self._database = database
        self._lease_ttl_s = lease_ttl_s
        self._uow: UowFactory = uow_factory(database)
        self._network = network
        self._signing = Signing(system, box, passphrase, timedelta(seconds=envelope_ttl_s))
        self._poll_s = poll_interval_s
        self._window_s = batch_window_s
        self._retry_base_s = retry_base_s
        self._last_partial = 0.0  # monotonic time a batch with room to spare last went
        self._clock = clock
        self._channels = {c.public_key: c for c in system.channels}
        self._in_flight: dict[str, InFlight] = {}  # channel address -> its envelope
        self._sequences: dict[str, int] = {}  # channel address -> current sequence
        self._pool = ThreadPoolExecutor(len(self._channels), thread_name_prefix="settle")
        self._resumed = False

    def run_forever(self, stop: threading.Event) -> None:
        """Settle while this process holds the settlement lock, until stop is set
        (in-flight envelopes are answered first)."""
        lock = Lease(self._database, leases.SETTLEMENT, ttl_s=self._lease_ttl_s)
        try:
            while not stop.is_set():
                if not lock.held():  # another process settles, or the lock was lost
                    self.drain()
                    # Once it is ours again: resume from the database, whose channels'
                    # sequences another settler may have moved meanwhile.
                    self._resumed = False
                    self._sequences.clear()
                    stop.wait(LOCK_RETRY_S)
                    continue
                checked = time.monotonic()
                while not stop.is_set() and time.monotonic() - checked < LOCK_CHECK_S:
                    try:
                        busy = self.step()
                    except Exception:
                        log.exception("settlement round failed; trying again")
                        busy = False
                    if not busy:
                        stop.wait(self._poll_s)
            self.drain()
        finally:
            lock.release()
            self._pool.shutdown(wait=True)

    def step(self) -> bool:
        """One round: record answers, resend what is due, submit new batches.
        Returns True if it did anything (the loop then goes again at once)."""
        if not self._resumed:
            self._resume()
        busy = self._collect()
        busy |= self._resend_due()
        free = [c for c in self._channels if c not in self._in_flight]
        if free:
            busy |= self._submit_new(free)
        return busy

    def drain(self, timeout_s: float = 60.0) -> None:
        """Wait for the envelopes in flight and record their answers (no new ones)."""
        deadline = time.monotonic() + timeout_s
        while self._in_flight and time.monotonic() < deadline:
            if not (self._collect() | self._resend_due()):
                time.sleep(0.02)

    def settle_all(self, timeout_s: float = 60.0) -> None:
        """Run rounds until nothing is pending or in flight (tests, benchmarks)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.step():
                if not settlement_rounds.outstanding(self._uow()) and not self._in_flight:
                    return
                time.sleep(0.02)
        raise TimeoutError("settlement did not finish in time")

    def _resume(self) -> None:
        for purpose, envelope in settlement_rounds.signed_envelopes(self._uow()):
            if envelope.source in self._in_flight:
                continue
            log.info("resending an envelope after a restart", extra={"purpose": purpose})
            self._in_flight[envelope.source] = InFlight(envelope, purpose)
            self._send(envelope.source)
        self._resumed = True

    def _submit_new(self, free: list[str]) -> bool:
        # Activations first: every movement of a wallet waits for its account.
        activated = self._activate(free)
        free = free[activated:]
        if not free:
            return bool(activated)
        planned = settlement_rounds.plan_round(self._uow(), max_batches=len(free))
        # A batch with room to spare waits up to the window for more movements: sent at
        # once, small batches would use up the channels early in a ledger and leave the
        # movements that follow waiting for the next one.
        now = time.monotonic()
        partial_due = now - self._last_partial >= self._window_s
        for channel, batch in zip(free, planned.batches, strict=False):
            if not batch.full and not partial_due:
                continue
            sequence = self._sequence(channel)
            if sequence is None:
                continue
            if not batch.full:
                self._last_partial = now
            signed = settlement_submission.sign_batch(
                self._uow(),
                self._signing,
                batch,
                channel=self._channels[channel],
                sequence=sequence,
                now=self._clock(),
            )
            self._start(channel, InFlight(signed))
        return bool(planned or activated)

    def _activate(self, free: list[str]) -> int:
        """Activation envelopes for waiting wallets on free channels; returns how many."""
        waiting = settlement_rounds.waiting_activations(self._uow(), channels=len(free))
        used = 0
        for wallets in waiting:
            channel = free[used]
            sequence = self._sequence(channel)
            if sequence is None:
                break
            signed = settlement_submission.sign_activations(
                self._uow(),
                self._signing,
                wallets,
                channel=self._channels[channel],
                sequence=sequence,
                now=self._clock(),
            )
            self._start(channel, InFlight(signed, "activations"))
            used += 1
        return used

    def _sequence(self, channel: str) -> int | None:
        """The channel's sequence as counted here, read from the network when unknown."""
        if channel not in self._sequences:
            sequence = settlement_submission.channel_sequence(self._network, channel)
            if sequence is None:
                return None
            self._sequences[channel] = sequence
        return self._sequences[channel]

    def _start(self, channel: str, flight: InFlight) -> None:
        """A saved envelope goes out: its sequence is the channel's now."""
        self._sequences[channel] = flight.envelope.sequence
        self._in_flight[channel] = flight
        self._send(channel)

    def _send(self, channel: str) -> None:
        flight = self._in_flight[channel]
        flight.attempts += 1
        flight.future = self._pool.submit(self._network.submit, flight.envelope.envelope_xdr)

    def _collect(self) -> bool:
        busy = False
        for channel, flight in list(self._in_flight.items()):
            if flight.future is None or not flight.future.done():
                continue
            busy = True
            future, flight.future = flight.future, None
            try:
                result = future.result()
            except Exception as exc:  # the adapter sorts every answer; this is a bug
                log.exception("settlement submission raised")
                result = SubmitResult(Submission.RETRY, error=f"{type(exc).__name__}: {exc}")
            self._record(channel, result)
        return busy

    def _resend_due(self) -> bool:
        now, busy = time.monotonic(), False
        for channel, flight in list(self._in_flight.items()):
            if flight.future is None and flight.retry_at <= now:
                busy = True
                if settlement_answers.ask_before_resending(
                    flight.envelope, now=self._clock(), live_by_network=flight.live_by_network
                ):
                    self._record(channel, None)
                else:
                    flight.live_by_network = False  # ask again after this answer
                    self._send(channel)
        return busy

    def _record(self, channel: str, result: SubmitResult | None) -> None:
        """Record the network's answer (None: ask it whether the envelope is past use),
        then bring the channel in step with what was recorded."""
        flight = self._in_flight[channel]
        try:
            if result is None:
                next_ = settlement_answers.record_if_unusable(
                    self._uow(), self._network, flight.envelope, flight.purpose
                )
            else:
                next_ = settlement_answers.record_answer(
                    self._uow(), self._network, flight.envelope, flight.purpose, result
                )
        except StellarUnavailable as exc:  # nothing recorded: ask again later
            self._later(flight, str(exc))
            return
        if next_.step in (Step.RESEND, Step.LIVE):  # the same bytes go again later
            flight.live_by_network = next_.step is Step.LIVE
            self._later(flight, next_.why)
            return
        if next_.step is Step.FREED:  # dead or refused: its sequence number may be used
            self._sequences.pop(channel, None)
        del self._in_flight[channel]

    def _later(self, flight: InFlight, why: str) -> None:
        delay = min(RETRY_CAP_S, self._retry_base_s * 2 ** max(0, flight.attempts - 1))
        flight.retry_at = time.monotonic() + delay
        log.warning("settlement envelope will be resent", extra={"error": why})
