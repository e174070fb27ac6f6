"""Sign an envelope and save it, with what it carries, before it is ever submitted.

The envelope is committed (state 'signed') in the same transaction that marks its
movements 'submitted' or its wallets 'activating': after a crash the settler finds it
and sends the very same bytes again, so a payment is never applied twice and never
lost. Seeds are opened by app/services/custody.py for the one signature and dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from stellar_sdk import Keypair, TransactionEnvelope

from app.db.repositories.stellar import SignedEnvelope
from app.db.unit_of_work import UnitOfWork
from app.integrations.stellar import StellarNetwork, StellarUnavailable
from app.services import custody, stellar_envelopes
from app.services.custody import SecretBox, SystemAccounts
from app.services.settlement_plan import Batch

__all__ = ["SignedEnvelope", "Signing", "channel_sequence", "sign_activations", "sign_batch"]

log = logging.getLogger("paytrace.settlement")


@dataclass(frozen=True)
class Signing:
    """What signing needs besides the envelope's contents: PayTrace's own accounts, the
    box that opens wallet seeds, the network's passphrase, and how long an envelope may
    apply (STELLAR_ENVELOPE_TTL_S)."""

    system: SystemAccounts
    box: SecretBox
    passphrase: str
    ttl: timedelta


def channel_sequence(network: StellarNetwork, channel: str) -> int | None:
    """The channel account's current sequence on the network; None when the network
    cannot say or the account is missing (the channel sits the round out, logged)."""
    try:
        account = network.account(channel)
    except StellarUnavailable as exc:
        log.warning("channel sequence unavailable", extra={"error": str(exc)})
        return None
    if account is None:
        log.error("channel account missing on the network", extra={"channel": channel})
        return None
    return account.sequence


def sign_batch(
    uow: UnitOfWork,
    signing: Signing,
    batch: Batch,
    *,
    channel: Keypair,
    sequence: int,
    now: datetime,
) -> SignedEnvelope:
    """Sign one batch's payments with `channel` as source at `sequence`, time-bounded from
    `now`, save the envelope and mark its movements 'submitted' (committed). Raises
    UndecryptableSecret."""
    max_time = stellar_envelopes.time_bound(now, signing.ttl)
    with uow:
        signers = [
            *stellar_envelopes.system_payers(signing.system, batch),
            *custody.wallet_signers(uow, signing.box, stellar_envelopes.payer_wallets(batch)),
        ]
        envelope = stellar_envelopes.settlement(
            signing.system,
            batch,
            source=channel,
            source_sequence=sequence,
            signers=signers,
            max_time=max_time,
            passphrase=signing.passphrase,
        )
        saved = _add(uow, channel.public_key, envelope, max_time, "settlement")
        uow.settlements.mark_submitted([s.transaction_id for s in batch.settlements], saved.id)
        uow.commit()  # saved before it is ever submitted
    return saved


def sign_activations(
    uow: UnitOfWork,
    signing: Signing,
    wallets: list[tuple[str, str]],
    *,
    channel: Keypair,
    sequence: int,
    now: datetime,
) -> SignedEnvelope:
    """Sign one activation envelope for `wallets` (address, secret token; at most 18),
    time-bounded from `now`, save it and mark the wallets 'activating' (committed).
    Raises UndecryptableSecret."""
    max_time = stellar_envelopes.time_bound(now, signing.ttl)
    envelope = stellar_envelopes.activations(
        signing.system,
        custody.open_seeds(signing.box, (token for _, token in wallets)),
        source=channel,
        source_sequence=sequence,
        max_time=max_time,
        passphrase=signing.passphrase,
    )
    with uow:
        saved = _add(uow, channel.public_key, envelope, max_time, "activations")
        uow.settlements.mark_activating([address for address, _ in wallets], saved.id)
        uow.commit()  # saved before it is ever submitted
    return saved


def _add(
    uow: UnitOfWork, source: str, envelope: TransactionEnvelope, max_time: datetime, purpose: str
) -> SignedEnvelope:
    tx_hash, xdr = envelope.hash_hex(), envelope.to_xdr()
    sequence = envelope.transaction.sequence
    envelope_id = uow.settlements.add_envelope(
        source=source,
        sequence=sequence,
        tx_hash=tx_hash,
        envelope_xdr=xdr,
        max_time=max_time,
        purpose=purpose,
    )
    return SignedEnvelope(
        envelope_id, None, source, sequence, tx_hash, xdr, max_time, "signed", None
    )
