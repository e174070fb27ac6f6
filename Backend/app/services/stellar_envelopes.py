"""The transactions PayTrace signs, built with the official stellar-sdk.

Both kinds are sourced by a channel account, which pays the fee: users never hold XLM.

* Activation creates each user's account with a 0 XLM balance and its KES trustline,
  both reserves *sponsored* by the treasury (CAP-33): nothing about one user's
  activation can half-happen.
* Settlement carries a batch's KES payments (app/services/settlement_plan.py), each
  operation sourced by its payer, signed by the channel and every payer.

Pure: the keys come opened from app/services/custody.py; saving and sending are the
settlement services' (settlement_submission.py) and the settler's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from stellar_sdk import Account, Keypair, TransactionBuilder, TransactionEnvelope

from app.integrations.stellar import cents_to_amount
from app.services import settlement_plan
from app.services.custody import SystemAccounts
from app.services.settlement_plan import Batch, Side

BASE_FEE = 100  # stroops per operation: the network's minimum


def time_bound(now: datetime, ttl: timedelta) -> datetime:
    """The max_time of an envelope signed at `now`: whole seconds, as it goes on-chain."""
    return datetime.fromtimestamp(int((now + ttl).timestamp()), UTC)


def address(system: SystemAccounts, side: Side) -> str:
    """The Stellar account one side of a payment stands for."""
    if side.party is settlement_plan.ISSUER:
        return system.issuer.public_key
    if side.party == 0:
        return system.treasury.public_key
    assert side.address is not None
    return side.address


def payer_wallets(batch: Batch) -> list[str]:
    """The users' addresses that pay in a batch, each once, sorted: whose seeds sign it."""
    payers = {p.payer for payments in batch.payments for p in payments}
    return sorted(side.address for side in payers if side.address is not None)


def system_payers(system: SystemAccounts, batch: Batch) -> list[Keypair]:
    """PayTrace's own accounts that pay in a batch (the issuer, then the treasury)."""
    payers = {p.payer for payments in batch.payments for p in payments}
    signers = []
    if any(side.party is settlement_plan.ISSUER for side in payers):
        signers.append(system.issuer)
    if any(side.party == 0 for side in payers):
        signers.append(system.treasury)
    return signers


def settlement(
    system: SystemAccounts,
    batch: Batch,
    *,
    source: Keypair,
    source_sequence: int,
    signers: Sequence[Keypair],
    max_time: datetime,
    passphrase: str,
) -> TransactionEnvelope:
    """One batch's payments in one transaction sourced (and paid for) by the channel
    `source`, signed by it and by `signers` (every payer of the batch)."""
    builder = TransactionBuilder(
        Account(source.public_key, source_sequence), passphrase, base_fee=BASE_FEE
    )
    for payments in batch.payments:
        for payment in payments:
            builder.append_payment_op(
                destination=address(system, payment.payee),
                asset=system.asset,
                amount=cents_to_amount(payment.cents),
                source=address(system, payment.payer),
            )
    envelope = builder.add_time_bounds(0, int(max_time.timestamp())).build()
    # The hash once for all signatures: envelope.sign() would serialise it each time.
    tx_hash = envelope.hash()
    for signer in (source, *signers):
        envelope.signatures.append(signer.sign_decorated(tx_hash))
    return envelope


def activations(
    system: SystemAccounts,
    users: list[Keypair],
    *,
    source: Keypair,
    source_sequence: int,
    max_time: datetime,
    passphrase: str,
) -> TransactionEnvelope:
    """Activate many users in one transaction sourced (and paid for) by `source`, e.g. a
    channel account, each exactly as `activation` does; signed by the source, the
    treasury and every user (so at most 18 users: 20 signatures per transaction)."""
    if not 1 <= len(users) <= 18:
        raise ValueError("one to 18 users per activation transaction")
    treasury = system.treasury.public_key
    builder = TransactionBuilder(
        source_account=Account(source.public_key, source_sequence),
        network_passphrase=passphrase,
        base_fee=BASE_FEE,
    )
    for user in users:
        address = user.public_key
        builder.append_begin_sponsoring_future_reserves_op(sponsored_id=address, source=treasury)
        builder.append_create_account_op(destination=address, starting_balance="0", source=treasury)
        builder.append_change_trust_op(asset=system.asset, source=address)
        builder.append_end_sponsoring_future_reserves_op(source=address)
    envelope = builder.add_time_bounds(0, int(max_time.timestamp())).build()
    tx_hash = envelope.hash()  # once: envelope.sign() would serialise it per signer
    signers = {k.public_key: k for k in (source, system.treasury, *users)}  # each once
    for signer in signers.values():
        envelope.signatures.append(signer.sign_decorated(tx_hash))
    return envelope
