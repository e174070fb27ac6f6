"""The settler: mirrors committed ledger movements on Stellar, each exactly once.

Each round it plans the pending movements (app/services/settlement_plan.py), signs
one envelope per batch with a free channel account as its source (the channel pays
the fee; users never hold XLM) and the payers' keys (decrypted here only, only to
sign), saves the envelope and marks its movements 'submitted' in one commit, and
only then submits it. Many channels are in flight at once, so many users settle in
the same ledger.

Activation rides the same rounds: wallets waiting for their account on-chain go first,
18 to an envelope (app/services/stellar_envelopes.activations), each a sponsored
0-XLM account with its KES trustline.

What an answer means (for both kinds of envelope):

* applied: the envelope and its movements are recorded settled, with hash and ledger;
* retry (timeout, 5xx): the very same bytes are sent again, until the network shows
  the envelope can never apply (app/services/settlement_expiry.py: a closed ledger past
  its time bound, or its channel's sequence used, and its hash absent); then it is dead
  and its movements are planned again. This machine's clock only says when to ask;
* bad sequence / too late: the same question to the network; dead (the channel's
  sequence is reloaded, its movements planned again) only on the network's word, else
  the same bytes go again later;
* refused: the movements whose operations failed are parked for an operator (they
  block later movements spending from the same parties); the others are planned again.

After a crash, every envelope still 'signed' is resubmitted as it is before anything
new is built: a payment is never applied twice and never lost. One settler runs per
database (an advisory lock), because the plan relies on seeing every envelope in flight.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from stellar_sdk import Account, Keypair, TransactionBuilder

from app.db import advisory
from app.db.advisory import SessionLock
from app.db.pool import Database
from app.db.repositories.settlements import OpenSettlement
from app.db.repositories.stellar import SignedEnvelope
from app.db.unit_of_work import UnitOfWork
from app.integrations.stellar import (
    StellarNetwork,
    StellarUnavailable,
    Submission,
    SubmitResult,
    cents_to_amount,
)
from app.services import settlement_expiry, settlement_plan, stellar_envelopes
from app.services.custody import SecretBox, SystemAccounts
from app.services.settlement_expiry import EnvelopeBounds, Fate
from app.services.settlement_plan import Batch, Side

log = logging.getLogger("paytrace.settlement")

BASE_FEE = 100  # stroops per operation, paid by the channel
PENDING_SCAN = 2000  # movements looked at per round
# One settler per database (app/db/advisory.py): a standby asks for the lock this
# often, and the holder checks it still has it this often.
LOCK_RETRY_S = 5.0
LOCK_CHECK_S = 1.0
RETRY_BASE_S = 1.0
RETRY_CAP_S = 30.0


ACTIVATIONS_PER_ENVELOPE = 18  # 20 signatures: the channel's, the treasury's, 18 users'


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
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not system.channels:
            raise ValueError("settlement needs at least one channel account")
        self._database = database
        self._network = network
        self._system = system
        self._box = box
        self._passphrase = passphrase
        self._ttl = timedelta(seconds=envelope_ttl_s)
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

    # ---- the loop ---------------------------------------------------------------------

    def run_forever(self, stop: threading.Event) -> None:
        """Settle while this process holds the settlement lock, until stop is set
        (in-flight envelopes are answered first)."""
        lock = SessionLock(self._database.dsn, advisory.SETTLEMENT, name="settler")
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
                with UnitOfWork(self._database) as uow:
                    open_rows = uow.settlements.unsettled_count()
                    open_rows += len(uow.settlements.pending_activations(1))
                if not open_rows and not self._in_flight:
                    return
                time.sleep(0.02)
        raise TimeoutError("settlement did not finish in time")

    # ---- building and submitting ------------------------------------------------------

    def _resume(self) -> None:
        with UnitOfWork(self._database) as uow:
            signed = uow.settlements.signed_envelopes()
        for purpose, envelope in signed:
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
        with UnitOfWork(self._database) as uow:
            # Parked and in-flight parties before the pending movements: one an operator
            # puts back to pending in between is then seen twice (held back a round),
            # never not at all (later movements of its parties would go ahead of it).
            blocked = uow.settlements.blocking_parties()
            pending = uow.settlements.pending(PENDING_SCAN)
            if not pending:
                return bool(activated)
        batches, empty = settlement_plan.plan(pending, blocked, max_batches=len(free))
        if empty:
            with UnitOfWork(self._database) as uow:
                uow.settlements.mark_settled_without_payment([s.transaction_id for s in empty])
                uow.commit()
        # A batch with room to spare waits up to the window for more movements: sent at
        # once, small batches would use up the channels early in a ledger and leave the
        # movements that follow waiting for the next one.
        now = time.monotonic()
        partial_due = now - self._last_partial >= self._window_s
        for channel, batch in zip(free, batches, strict=False):
            if not batch.full and not partial_due:
                continue
            sequence = self._sequence(channel)
            if sequence is None:
                continue
            if not batch.full:
                self._last_partial = now
            self._in_flight[channel] = InFlight(self._sign_and_save(channel, sequence, batch))
            self._send(channel)
        return bool(batches or empty or activated)

    def _activate(self, free: list[str]) -> int:
        """Activation envelopes for waiting wallets on free channels; returns how many."""
        with UnitOfWork(self._database) as uow:
            waiting = uow.settlements.pending_activations(ACTIVATIONS_PER_ENVELOPE * len(free))
        used = 0
        for start in range(0, len(waiting), ACTIVATIONS_PER_ENVELOPE):
            channel = free[used]
            sequence = self._sequence(channel)
            if sequence is None:
                break
            wallets = waiting[start : start + ACTIVATIONS_PER_ENVELOPE]
            max_time = datetime.fromtimestamp(int((self._clock() + self._ttl).timestamp()), UTC)
            envelope = stellar_envelopes.activations(
                self._system,
                # Decrypted for this signature only, never kept.
                [Keypair.from_secret(self._box.decrypt(secret)) for _, secret in wallets],
                source=self._channels[channel],
                source_sequence=sequence,
                max_time=max_time,
                passphrase=self._passphrase,
            )
            saved = self._save(
                channel,
                envelope,
                max_time,
                "activations",
                lambda uow, envelope_id, addresses=[a for a, _ in wallets]: (
                    uow.settlements.mark_activating(addresses, envelope_id)
                ),
            )
            self._in_flight[channel] = InFlight(saved, "activations")
            self._send(channel)
            used += 1
        return used

    def _sequence(self, channel: str) -> int | None:
        if channel not in self._sequences:
            try:
                account = self._network.account(channel)
            except StellarUnavailable as exc:
                log.warning("channel sequence unavailable", extra={"error": str(exc)})
                return None
            if account is None:
                log.error("channel account missing on the network", extra={"channel": channel})
                return None
            self._sequences[channel] = account.sequence
        return self._sequences[channel]

    def _sign_and_save(self, channel: str, sequence: int, batch: Batch) -> SignedEnvelope:
        max_time = datetime.fromtimestamp(int((self._clock() + self._ttl).timestamp()), UTC)
        builder = TransactionBuilder(
            Account(channel, sequence), self._passphrase, base_fee=BASE_FEE
        )
        for payments in batch.payments:
            for payment in payments:
                builder.append_payment_op(
                    destination=self._address(payment.payee),
                    asset=self._system.asset,
                    amount=cents_to_amount(payment.cents),
                    source=self._address(payment.payer),
                )
        envelope = builder.add_time_bounds(0, int(max_time.timestamp())).build()
        # The hash once for all signatures: envelope.sign() would serialise it each time.
        tx_hash = envelope.hash()
        for signer in (self._channels[channel], *self._signers(batch)):
            envelope.signatures.append(signer.sign_decorated(tx_hash))
        ids = [s.transaction_id for s in batch.settlements]
        return self._save(
            channel,
            envelope,
            max_time,
            "settlement",
            lambda uow, envelope_id: uow.settlements.mark_submitted(ids, envelope_id),
        )

    def _save(self, channel, envelope, max_time, purpose, mark) -> SignedEnvelope:
        """Commit the signed envelope (and `mark` what it carries) before it is sent."""
        tx_hash, xdr = envelope.hash_hex(), envelope.to_xdr()
        with UnitOfWork(self._database) as uow:
            envelope_id = uow.settlements.add_envelope(
                source=channel,
                sequence=envelope.transaction.sequence,
                tx_hash=tx_hash,
                envelope_xdr=xdr,
                max_time=max_time,
                purpose=purpose,
            )
            mark(uow, envelope_id)
            uow.commit()  # saved before it is ever submitted
        self._sequences[channel] = envelope.transaction.sequence
        return SignedEnvelope(
            envelope_id,
            None,
            channel,
            envelope.transaction.sequence,
            tx_hash,
            xdr,
            max_time,
            "signed",
            None,
        )

    def _address(self, side: Side) -> str:
        if side.party is settlement_plan.ISSUER:
            return self._system.issuer.public_key
        if side.party == 0:
            return self._system.treasury.public_key
        assert side.address is not None
        return side.address

    def _signers(self, batch: Batch) -> list[Keypair]:
        payers = {p.payer for payments in batch.payments for p in payments}
        signers = []
        wallets = sorted(side.address for side in payers if side.address is not None)
        if any(side.party is settlement_plan.ISSUER for side in payers):
            signers.append(self._system.issuer)
        if any(side.party == 0 for side in payers):
            signers.append(self._system.treasury)
        with UnitOfWork(self._database) as uow:
            secrets = uow.settlements.wallet_secrets(wallets)
        # Decrypted for this signature only, never kept.
        signers.extend(Keypair.from_secret(self._box.decrypt(secrets[a])) for a in wallets)
        return signers

    def _send(self, channel: str) -> None:
        flight = self._in_flight[channel]
        flight.attempts += 1
        flight.future = self._pool.submit(self._network.submit, flight.envelope.envelope_xdr)

    # ---- answers ----------------------------------------------------------------------

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
            try:
                self._answer(channel, flight, result)
            except StellarUnavailable as exc:
                self._later(flight, str(exc))
        return busy

    def _resend_due(self) -> bool:
        now, busy = time.monotonic(), False
        for channel, flight in list(self._in_flight.items()):
            if flight.future is None and flight.retry_at <= now:
                busy = True
                if self._clock() > flight.envelope.max_time and not flight.live_by_network:
                    # Past its time bound by this clock: only a hint to ask the network,
                    # which alone can say the envelope will never apply.
                    try:
                        self._unusable(channel, flight.envelope)
                    except StellarUnavailable as exc:
                        self._later(flight, str(exc))
                else:
                    flight.live_by_network = False  # ask again after this answer
                    self._send(channel)
        return busy

    def _later(self, flight: InFlight, why: str) -> None:
        delay = min(RETRY_CAP_S, self._retry_base_s * 2 ** max(0, flight.attempts - 1))
        flight.retry_at = time.monotonic() + delay
        log.warning("settlement envelope will be resent", extra={"error": why})

    def _answer(self, channel: str, flight: InFlight, result: SubmitResult) -> None:
        envelope = flight.envelope
        if result.outcome is Submission.APPLIED:
            self._settled(channel, envelope, result.ledger or 0)
        elif result.outcome is Submission.RETRY:
            self._later(flight, result.error or "retry")
        elif result.outcome in (Submission.BAD_SEQUENCE, Submission.EXPIRED):
            self._unusable(channel, envelope)
        else:
            self._refused(channel, envelope, result.result_codes)

    def _unusable(self, channel: str, envelope: SignedEnvelope) -> None:
        """The envelope may be past use: settled if it applied, dead only if the network
        shows it never can; otherwise the same bytes go again later."""
        verdict = settlement_expiry.fate(self._network, EnvelopeBounds.of(envelope))
        if verdict.fate is Fate.APPLIED:  # it did apply; the answer saying so was lost
            self._settled(channel, envelope, verdict.ledger or 0)
            return
        if verdict.fate is Fate.LIVE:
            # This clock may be ahead of the network's: the same bytes go again once the
            # wait is over (the network then applies them or answers too late).
            flight = self._in_flight[channel]
            flight.live_by_network = True
            self._later(flight, f"not dead yet: {verdict.why}")
            return
        with UnitOfWork(self._database) as uow:
            if self._in_flight[channel].purpose == "activations":
                uow.settlements.finish_activations(envelope.id, "dead")
            else:
                uow.settlements.release(envelope.id, "dead")
            uow.commit()
        self._sequences.pop(channel, None)
        del self._in_flight[channel]
        log.info("envelope dead; what it carried will be built again", extra={"why": verdict.why})

    def _settled(self, channel: str, envelope: SignedEnvelope, ledger: int) -> None:
        activations = self._in_flight[channel].purpose == "activations"
        with UnitOfWork(self._database) as uow:
            if activations:
                wallets = uow.settlements.activating(envelope.id)
                uow.settlements.finish_activations(
                    envelope.id, "applied", ledger=ledger, active=wallets
                )
                count = len(wallets)
            else:
                count = uow.settlements.mark_settled(
                    envelope.id, tx_hash=envelope.tx_hash, ledger=ledger
                )
            uow.commit()
        del self._in_flight[channel]
        log.info(
            "applied on stellar",
            extra={"what": "activations" if activations else "movements", "count": count},
        )

    def _refused(self, channel: str, envelope: SignedEnvelope, codes: dict) -> None:
        if self._in_flight[channel].purpose == "activations":
            self._activations_refused(envelope, codes)
        else:
            with UnitOfWork(self._database) as uow:
                carried = uow.settlements.of_envelope(envelope.id)
            failed = _failing_movements(carried, codes)
            with UnitOfWork(self._database) as uow:
                uow.settlements.release(envelope.id, "failed", failed=failed, result_codes=codes)
                uow.commit()
            log.error(
                "settlement refused by the network; movements parked for an operator",
                extra={"parked": len(failed), "result_codes": codes},
            )
        self._sequences.pop(channel, None)  # a refused transaction may have used its number
        del self._in_flight[channel]

    def _activations_refused(self, envelope: SignedEnvelope, codes: dict) -> None:
        """Wallets whose four operations failed: already on-chain (a wallet activated
        before, e.g. by an earlier version) counts as active; otherwise parked."""
        with UnitOfWork(self._database) as uow:
            wallets = uow.settlements.activating(envelope.id)
        operations = codes.get("operations") or []
        active, failed = [], []
        for index, address in enumerate(wallets):
            own = operations[4 * index : 4 * index + 4]
            if own and all(code == "op_success" for code in own):
                continue  # refused for another wallet's sake: it goes again
            if self._network.account(address) is not None:
                active.append(address)
            else:
                failed.append(address)
        if not active and not failed:  # the network named no operation: park them all
            failed = [a for a in wallets if self._network.account(a) is None]
            active = [a for a in wallets if a not in failed]
        with UnitOfWork(self._database) as uow:
            uow.settlements.finish_activations(
                envelope.id, "failed", active=active, failed=failed, result_codes=codes
            )
            uow.commit()
        log.error(
            "activation refused by the network",
            extra={"parked": len(failed), "already_active": len(active), "result_codes": codes},
        )


def _failing_movements(carried: list[OpenSettlement], codes: dict) -> dict[int, str]:
    """Which movements of a refused envelope failed (their operations did), with why.
    When the network names no failing operation, all of them are parked."""
    operations = codes.get("operations") or []
    failed: dict[int, str] = {}
    index = 0
    for settlement in carried:
        count = len(settlement_plan.payments_for(settlement))
        own = operations[index : index + count]
        index += count
        bad = [code for code in own if code != "op_success"]
        if bad:
            failed[settlement.transaction_id] = ", ".join(bad)
    if not failed:
        why = str(codes.get("transaction") or "refused")
        failed = {s.transaction_id: why for s in carried}
    return failed
