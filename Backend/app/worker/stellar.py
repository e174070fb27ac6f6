"""Outbox kind 'stellar': sign, keep, submit; exactly once on the ledger.

Unlike an SMS, a Stellar transaction can be *resent safely*: the same signed bytes
carry the same hash and sequence number, so the network applies them at most once.
So the envelope is saved (committed) before it is submitted, and every retry, even
after the worker died mid-call, submits those very bytes. A new envelope is built
only when the old one provably can never apply: refused for its sequence number, or
past its time bound, and in both cases with its hash confirmed absent from the
ledger. Secrets are decrypted here only, only to sign.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from stellar_sdk import Keypair

from app.db.pool import Database
from app.db.repositories.outbox import OutboxRow
from app.db.repositories.stellar import SignedEnvelope
from app.db.unit_of_work import UnitOfWork
from app.integrations.stellar import StellarNetwork, StellarUnavailable, Submission
from app.services import stellar_envelopes
from app.services.custody import SecretBox, SystemAccounts
from app.worker.handlers import Outcome, Verdict

log = logging.getLogger("paytrace.stellar")


@dataclass(frozen=True)
class Applied:
    envelope_id: int
    ledger: int


@dataclass(frozen=True)
class Refused:
    envelope_id: int
    result_codes: dict


class NotReady(Exception):
    """Something the envelope needs is not there yet (e.g. the treasury account)."""


class StellarHandler:
    kind = "stellar"
    # A row whose worker died mid-call goes back to 'pending': resending is safe.
    resumable = True

    def __init__(
        self,
        database: Database,
        network: StellarNetwork,
        system: SystemAccounts,
        box: SecretBox,
        *,
        passphrase: str,
        envelope_ttl_s: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._database = database
        self._network = network
        self._system = system
        self._box = box
        self._passphrase = passphrase
        self._ttl = timedelta(seconds=envelope_ttl_s)
        self._clock = clock

    def perform(self, row: OutboxRow) -> Outcome:
        """Submit the row's live envelope (building and saving one first if none lives)."""
        if row.payload.get("action") != "activate" or not isinstance(
            row.payload.get("address"), str
        ):
            return Outcome(Verdict.FAILED, "malformed stellar payload")
        try:
            envelope = self._live_envelope(row)
            if envelope.status == "applied":
                return Outcome(Verdict.DONE, result=Applied(envelope.id, envelope.ledger or 0))
            result = self._network.submit(envelope.envelope_xdr)
            if result.outcome is Submission.APPLIED:
                return Outcome(Verdict.DONE, result=Applied(envelope.id, result.ledger or 0))
            if result.outcome is Submission.RETRY:
                return Outcome(Verdict.RETRY, result.error)
            if result.outcome in (Submission.BAD_SEQUENCE, Submission.EXPIRED):
                return self._unusable(envelope, str(result.outcome))
            return Outcome(
                Verdict.FAILED,
                f"refused: {result.result_codes}",
                Refused(envelope.id, result.result_codes),
            )
        except (StellarUnavailable, NotReady) as exc:
            return Outcome(Verdict.RETRY, f"{type(exc).__name__}: {exc}")

    def record(self, uow: UnitOfWork, row: OutboxRow, outcome: Outcome) -> None:
        """The envelope's fate and the wallet's on-chain status, with the row's."""
        address = row.payload.get("address")
        result = outcome.result
        if outcome.verdict is Verdict.DONE and isinstance(result, Applied):
            uow.stellar.settle(result.envelope_id, "applied", ledger=result.ledger)
            uow.stellar.set_wallet_status(address, "active")
        elif outcome.verdict is Verdict.FAILED and isinstance(result, Refused):
            uow.stellar.settle(result.envelope_id, "failed", result_codes=result.result_codes)
            uow.stellar.set_wallet_status(address, "failed")

    # ---- envelopes -----------------------------------------------------------------

    def _live_envelope(self, row: OutboxRow) -> SignedEnvelope:
        with UnitOfWork(self._database) as uow:
            live = uow.stellar.live_for(row.id)
        if live is not None and (live.status == "applied" or self._clock() <= live.max_time):
            return live
        if live is not None:  # past its time bound: on the ledger, or never
            ledger = self._network.transaction_ledger(live.tx_hash)
            if ledger is not None:
                return _applied(live, ledger)
            self._kill(live)
        return self._sign_and_save(row)

    def _unusable(self, envelope: SignedEnvelope, why: str) -> Outcome:
        ledger = self._network.transaction_ledger(envelope.tx_hash)
        if ledger is not None:  # refused as a duplicate because it had applied
            return Outcome(Verdict.DONE, result=Applied(envelope.id, ledger))
        self._kill(envelope)
        return Outcome(Verdict.RETRY, f"{why}: a new envelope will be built")

    def _kill(self, envelope: SignedEnvelope) -> None:
        with UnitOfWork(self._database) as uow:
            uow.stellar.settle(envelope.id, "dead")
            uow.commit()
        log.info("stellar envelope dead", extra={"outbox_id": envelope.outbox_id})

    def _sign_and_save(self, row: OutboxRow) -> SignedEnvelope:
        address = row.payload["address"]
        treasury = self._network.account(self._system.treasury.public_key)
        if treasury is None:
            raise NotReady("the treasury account does not exist on the network")
        with UnitOfWork(self._database) as uow:
            secret = uow.stellar.wallet_secret(address)
        if secret is None:
            raise NotReady(f"no wallet holds {address}")
        max_time = self._clock() + self._ttl
        envelope = stellar_envelopes.activation(
            self._system,
            Keypair.from_secret(self._box.decrypt(secret)),
            treasury_sequence=treasury.sequence,
            max_time=max_time,
            passphrase=self._passphrase,
        )
        with UnitOfWork(self._database) as uow:
            saved = uow.stellar.add(
                outbox_id=row.id,
                source=self._system.treasury.public_key,
                sequence=envelope.transaction.sequence,
                tx_hash=envelope.hash_hex(),
                envelope_xdr=envelope.to_xdr(),
                # Whole seconds, as the envelope carries it.
                max_time=datetime.fromtimestamp(int(max_time.timestamp()), UTC),
            )
            uow.commit()  # saved before it is ever submitted
        return saved


def _applied(envelope: SignedEnvelope, ledger: int) -> SignedEnvelope:
    return replace(envelope, status="applied", ledger=ledger)
