"""The StellarNetwork port's contract: FakeStellarNetwork answers as Horizon (the real
adapter, through the official stellar-sdk) does over the local Stellar network, each
scenario run on both by tests/support/contract.py.

The fake models submission (applied once, the same answer again), the sequence a
source account moves to, the time bound, and the reads; a side's accounts are
arranged its own way (the fake is told them, the network's friendbot funds them).
Balances are not modelled by the fake: nothing here reads them after a payment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import pytest
from stellar_sdk import Account, Asset, Keypair, TransactionBuilder

from app.integrations.stellar import (
    STROOPS_PER_UNIT,
    AccountState,
    FakeStellarNetwork,
    Horizon,
    StellarNetwork,
    SubmitResult,
)
from app.sandboxes.stellar import DEFAULT_PASSPHRASE
from tests.support.contract import observe
from tests.support.stellar_network import funded

PASSPHRASE = DEFAULT_PASSPHRASE


@dataclass
class Side:
    port: StellarNetwork
    funded: Callable[[], Keypair]  # a new account holding 10,000 XLM


@pytest.fixture
def sides(horizon_url) -> dict[str, Callable[[], Side]]:
    def fake() -> Side:
        network = FakeStellarNetwork()

        def account() -> Keypair:
            keypair = Keypair.random()
            network.accounts[keypair.public_key] = AccountState(
                keypair.public_key, network.ledger << 32, {"native": 10_000 * STROOPS_PER_UNIT}
            )
            return keypair

        return Side(network, account)

    def real() -> Side:
        return Side(Horizon(horizon_url, timeout_s=5), lambda: funded(horizon_url))

    return {"fake": fake, "real": real}


def payment(
    side: Side, payer: Keypair, payee: Keypair, *, sequence_offset: int = 1, timeout: int = 60
) -> tuple[str, str]:
    """A signed payment of 10 XLM: (its envelope XDR, its hash)."""
    state = side.port.account(payer.public_key)
    assert state is not None
    source = Account(payer.public_key, state.sequence + sequence_offset - 1)
    builder = TransactionBuilder(source, PASSPHRASE, 100)
    builder.append_payment_op(payee.public_key, Asset.native(), "10")
    if timeout >= 0:
        builder.set_timeout(timeout)
    else:  # a time bound already passed
        builder.add_time_bounds(0, int(datetime.now().timestamp()) + timeout)
    envelope = builder.build()
    envelope.sign(payer)
    return envelope.to_xdr(), envelope.hash_hex()


def submitted(result: SubmitResult) -> tuple:
    """What the settler reads of a submission (the ledger: whether there is one)."""
    return result.outcome, result.ledger is not None, result.result_codes, result.error


def test_a_payment_applies_once_even_submitted_twice(sides):
    def scenario(side: Side):
        payer, payee = side.funded(), side.funded()
        before = side.port.account(payer.public_key)
        xdr, tx_hash = payment(side, payer, payee)
        first, again = side.port.submit(xdr), side.port.submit(xdr)
        after = side.port.account(payer.public_key)
        latest = side.port.latest_ledger()
        return (
            submitted(first),
            again == first,
            side.port.transaction_ledger(tx_hash) == first.ledger,
            after.sequence - before.sequence,
            latest.sequence >= first.ledger,
            latest.closed_at.utcoffset() is not None,
        )

    got = observe(sides, scenario)
    assert got[0][0] == "applied" and got[1:] == (True, True, 1, True, True)


def test_what_the_network_never_saw_is_none(sides):
    def scenario(side: Side):
        payer, payee = side.funded(), side.funded()
        _, tx_hash = payment(side, payer, payee)
        return side.port.transaction_ledger(tx_hash), side.port.account(Keypair.random().public_key)

    assert observe(sides, scenario) == (None, None)


@pytest.mark.parametrize("offset", [0, 2])
def test_a_sequence_other_than_the_next_is_bad_and_applies_nothing(sides, offset):
    def scenario(side: Side):
        payer, payee = side.funded(), side.funded()
        before = side.port.account(payer.public_key)
        xdr, tx_hash = payment(side, payer, payee, sequence_offset=offset)
        result = side.port.submit(xdr)
        after = side.port.account(payer.public_key)
        applied = side.port.transaction_ledger(tx_hash)
        return submitted(result), after.sequence - before.sequence, applied

    got = observe(sides, scenario)
    assert got[0][0] == "bad_sequence" and got[1:] == (0, None)


def test_an_envelope_past_its_time_bound_is_expired_and_applies_nothing(sides):
    def scenario(side: Side):
        payer, payee = side.funded(), side.funded()
        xdr, tx_hash = payment(side, payer, payee, timeout=-30)
        return submitted(side.port.submit(xdr)), side.port.transaction_ledger(tx_hash)

    got = observe(sides, scenario)
    assert got[0][0] == "expired" and got[1] is None
