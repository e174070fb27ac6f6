"""The activation transactions PayTrace signs, built with the official stellar-sdk.

Users never hold XLM. Activation creates each user's account with a 0 XLM balance
and its KES trustline, both reserves *sponsored* by the treasury (CAP-33), in a
transaction whose source (a channel account) pays the fee: nothing about one
user's activation can half-happen. (Settlement envelopes are built by the settler,
app/worker/settlement.py.)
"""

from __future__ import annotations

from datetime import datetime

from stellar_sdk import Account, Keypair, TransactionBuilder, TransactionEnvelope

from app.services.custody import SystemAccounts

BASE_FEE = 100  # stroops per operation: the network's minimum


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
