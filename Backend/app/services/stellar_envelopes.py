"""The Stellar transactions PayTrace signs, built with the official stellar-sdk.

Users never hold XLM. Activation creates the user's account with a 0 XLM
balance and its KES trustline, both reserves *sponsored* by the treasury (CAP-33),
in one transaction the treasury pays for: nothing about it can half-happen.
"""

from __future__ import annotations

from datetime import datetime

from stellar_sdk import Account, Keypair, TransactionBuilder, TransactionEnvelope

from app.services.custody import SystemAccounts

BASE_FEE = 100  # stroops per operation: the network's minimum


def activation(
    system: SystemAccounts,
    user: Keypair,
    *,
    treasury_sequence: int,
    max_time: datetime,
    passphrase: str,
) -> TransactionEnvelope:
    """Create user's account (0 XLM) and its trustline to PayTrace's asset, sponsored and
    paid for by the treasury; signed by both. treasury_sequence is the treasury's
    current sequence number (the envelope uses the next one)."""
    treasury, address = system.treasury.public_key, user.public_key
    envelope = (
        TransactionBuilder(
            source_account=Account(treasury, treasury_sequence),
            network_passphrase=passphrase,
            base_fee=BASE_FEE,
        )
        .append_begin_sponsoring_future_reserves_op(sponsored_id=address, source=treasury)
        .append_create_account_op(destination=address, starting_balance="0", source=treasury)
        .append_change_trust_op(asset=system.asset, source=address)
        .append_end_sponsoring_future_reserves_op(source=address)
        .add_time_bounds(0, int(max_time.timestamp()))
        .build()
    )
    envelope.sign(system.treasury)
    envelope.sign(user)
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
    for signer in (source, system.treasury, *users):
        envelope.sign(signer)
    return envelope
