"""When an envelope is dead: the network's ledgers and the hash decide, never this clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from stellar_sdk import Keypair

from app.integrations.stellar import AccountState, FakeStellarNetwork, StellarUnavailable
from app.services.settlement_expiry import EnvelopeBounds, Fate, decide, fate

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
CHANNEL = Keypair.random().public_key
SEQUENCE = 4_294_967_297
BOUNDS = EnvelopeBounds("ab" * 32, CHANNEL, SEQUENCE, NOW + timedelta(seconds=120))


def network(*, closed_at: datetime, channel_sequence: int = SEQUENCE - 1) -> FakeStellarNetwork:
    return FakeStellarNetwork(
        accounts={CHANNEL: AccountState(CHANNEL, channel_sequence, {})},
        close_clock=lambda: closed_at,
    )


def test_a_network_that_closed_no_ledger_past_the_time_bound_keeps_it_alive():
    # However far this machine's clock has run, only the network's close time counts.
    verdict = fate(network(closed_at=BOUNDS.max_time), BOUNDS)
    assert verdict.fate is Fate.LIVE


def test_a_ledger_closed_after_the_time_bound_with_the_hash_absent_is_dead():
    verdict = fate(network(closed_at=BOUNDS.max_time + timedelta(seconds=1)), BOUNDS)
    assert verdict.fate is Fate.DEAD


def test_a_hash_on_the_ledger_is_applied_however_late_it_is():
    net = network(closed_at=BOUNDS.max_time + timedelta(hours=1))
    net.hashes[BOUNDS.tx_hash] = 4242
    verdict = fate(net, BOUNDS)
    assert (verdict.fate, verdict.ledger) == (Fate.APPLIED, 4242)


def test_a_used_sequence_number_with_the_hash_absent_is_dead_before_the_time_bound():
    verdict = fate(network(closed_at=NOW, channel_sequence=SEQUENCE), BOUNDS)
    assert verdict.fate is Fate.DEAD


def test_a_source_not_on_the_network_is_no_proof_of_death():
    net = network(closed_at=NOW)
    net.accounts.clear()
    assert fate(net, BOUNDS).fate is Fate.LIVE


def test_a_network_that_cannot_be_asked_decides_nothing():
    class Down(FakeStellarNetwork):
        def latest_ledger(self):
            raise StellarUnavailable("connection refused")

    with pytest.raises(StellarUnavailable):
        fate(Down(), BOUNDS)


def test_the_ledger_is_read_before_the_hash():
    """An envelope applied in a ledger up to the one read is then visible by its hash."""
    reads: list[str] = []

    class Recording(FakeStellarNetwork):
        def latest_ledger(self):
            reads.append("ledger")
            return super().latest_ledger()

        def account(self, address):
            reads.append("account")
            return super().account(address)

        def transaction_ledger(self, tx_hash):
            reads.append("hash")
            return super().transaction_ledger(tx_hash)

    fate(Recording(close_clock=lambda: NOW), BOUNDS)
    assert reads == ["ledger", "account", "hash"]


@pytest.mark.parametrize(
    ("closed_after_s", "sequence", "applied", "expected"),
    [
        (-60, SEQUENCE - 1, None, Fate.LIVE),
        (0, SEQUENCE - 1, None, Fate.LIVE),  # Stellar accepts a close time equal to max_time
        (1, SEQUENCE - 1, None, Fate.DEAD),
        (-60, SEQUENCE + 3, None, Fate.DEAD),
        (-60, None, None, Fate.LIVE),
        (3600, SEQUENCE + 3, 77, Fate.APPLIED),
    ],
)
def test_decide(closed_after_s, sequence, applied, expected):
    verdict = decide(
        BOUNDS,
        last_closed_at=BOUNDS.max_time + timedelta(seconds=closed_after_s),
        source_sequence=sequence,
        applied_ledger=applied,
    )
    assert verdict.fate is expected
