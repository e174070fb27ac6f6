"""A settlement envelope is dead only on the network's word, never on this machine's clock.

Against PayTrace's local Stellar network over real HTTP: the settler's clock jumps an
hour ahead (an NTP step, a VM resumed) while its first envelope's answer is lost. The
network has closed no ledger past the envelope's time bound and the hash is not on it,
so the envelope is alive: the settler must send the same bytes again, not declare it
dead and sign a second envelope for the same movements (which would pay twice if the
first one landed after all)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest
from stellar_sdk import Keypair

from app.db.unit_of_work import UnitOfWork
from app.integrations.stellar import (
    AccountState,
    FakeStellarNetwork,
    Horizon,
    Submission,
    SubmitResult,
)
from app.services import settlement_admin
from app.services.custody import SecretBox
from app.services.settlement_admin import NotRetryable
from app.services.transfers import TransferRequest, transfer
from app.worker.settlement import Settler
from tests.support.stellar import (
    activate_pending,
    books,
    custody_settings,
    local_network,
    prepared_system,
)
from tests.support.wallets import fund, phone_of, register, registration_secrets

CHANNEL_SEQUENCE = 4_294_967_296


class SkewedClock:
    """This machine's clock, which a test can throw ahead of the network's."""

    def __init__(self) -> None:
        self.ahead = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.ahead


class AnswerLostOnce:
    """The real Horizon adapter, except that the first submission never reaches the
    network and its answer is a timeout, during which this machine's clock jumps."""

    def __init__(self, horizon: Horizon, clock: SkewedClock) -> None:
        self._horizon, self._clock = horizon, clock
        self.submitted: list[str] = []

    def submit(self, envelope_xdr: str) -> SubmitResult:
        self.submitted.append(envelope_xdr)
        if len(self.submitted) == 1:
            self._clock.ahead = timedelta(hours=1)
            return SubmitResult(Submission.RETRY, error="read timeout")
        return self._horizon.submit(envelope_xdr)

    def __getattr__(self, name: str):  # every read goes to the real network
        return getattr(self._horizon, name)


@pytest.fixture
def custody(settings, tmp_path):
    with local_network(tmp_path / "net", close_interval_s=0.05) as net:
        custody = custody_settings(settings, net.url, stellar_channels=1)
        yield custody, prepared_system(custody), Horizon(net.url)


def envelope_statuses(database) -> list[tuple[str, str]]:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT purpose, status FROM stellar_transactions ORDER BY id")
        found = cur.fetchall()
        conn.rollback()
    return found


def test_a_clock_running_ahead_declares_no_envelope_dead(custody, clean_database):
    settings, system, horizon = custody
    box, pin_hash = registration_secrets(settings)
    alice = register(clean_database, box, pin_hash, phone=phone_of(1), name="Alice Wanjiru")
    register(clean_database, box, pin_hash, phone=phone_of(2), name="Bob Otieno")
    activate_pending(settings, clean_database)
    fund(clean_database, phone_of(1), 500_00)
    transfer(
        UnitOfWork(clean_database),
        TransferRequest(alice, phone_of(2), 120_00, "skewed-1", channel="api"),
    )
    before = envelope_statuses(clean_database)

    clock = SkewedClock()
    network = AnswerLostOnce(horizon, clock)
    settler = Settler(
        clean_database,
        network,
        system,
        SecretBox.from_settings(settings),
        passphrase=settings.stellar_network_passphrase,
        envelope_ttl_s=60,
        poll_interval_s=0.01,
        retry_base_s=0.05,
        clock=clock,
    )
    settler.settle_all(timeout_s=30)

    # The network's last ledger closed before the time bound: nothing was dead.
    assert network.latest_ledger().closed_at < datetime.now(UTC) + timedelta(minutes=5)
    new = envelope_statuses(clean_database)[len(before) :]
    assert new == [("settlement", "applied")], new
    assert len(set(network.submitted)) == 1  # the very same bytes, sent again
    ledger, on_chain = books(clean_database, horizon, system)
    assert on_chain == ledger  # paid once


# ---- an operator's retry of a parked settlement asks the network too ---------------------


def park_refused(database, transaction_id: int, channel: str, max_time: datetime) -> int:
    """The movement went out in an envelope the network refused before any ledger
    (tx_bad_auth, say): parked for an operator. Returns the envelope's id."""
    with UnitOfWork(database) as uow:
        envelope_id = uow.settlements.add_envelope(
            source=channel,
            sequence=CHANNEL_SEQUENCE + 1,
            tx_hash=secrets.token_hex(32),
            envelope_xdr="AAAA",
            max_time=max_time,
        )
        uow.settlements.mark_submitted([transaction_id], envelope_id)
        uow.settlements.release(
            envelope_id,
            "failed",
            failed={transaction_id: "tx_bad_auth"},
            result_codes={"transaction": "tx_bad_auth"},
        )
        uow.commit()
    return envelope_id


def settlement_row(database, transaction_id: int) -> tuple:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT status, envelope_id FROM stellar_settlements WHERE transaction_id = %s",
            (transaction_id,),
        )
        found = cur.fetchone()
        conn.rollback()
    return found


def test_no_operator_retry_while_the_network_has_not_passed_the_time_bound(
    settings, clean_database
):
    """This machine (and the database) believe the refused envelope's time bound passed
    ten minutes ago; the network's last ledger closed before it, and the channel's
    sequence is unused: whoever holds the bytes could still get them applied, so a new
    envelope for the same movement must not be signed yet."""
    box, pin_hash = registration_secrets(settings)
    alice = register(clean_database, box, pin_hash, phone=phone_of(1), name="Alice Wanjiru")
    register(clean_database, box, pin_hash, phone=phone_of(2), name="Bob Otieno")
    fund(clean_database, phone_of(1), 500_00)
    moved = transfer(
        UnitOfWork(clean_database),
        TransferRequest(alice, phone_of(2), 120_00, "parked-1", channel="api"),
    ).transaction_id
    channel = Keypair.random().public_key
    now = datetime.now(UTC)
    envelope_id = park_refused(clean_database, moved, channel, now - timedelta(minutes=10))
    network = FakeStellarNetwork(
        accounts={channel: AccountState(channel, CHANNEL_SEQUENCE, {})},
        close_clock=lambda: now - timedelta(minutes=20),  # the network is behind this clock
    )
    balances = ledger_balances(clean_database)

    with pytest.raises(NotRetryable):
        settlement_admin.retry(UnitOfWork(clean_database), network, transaction_id=moved)

    assert settlement_row(clean_database, moved) == ("failed", envelope_id)
    assert ledger_balances(clean_database) == balances

    # Once the network closes a ledger past the time bound (hash still absent), it may go.
    network.close_clock = lambda: now
    state, retried = settlement_admin.retry(
        UnitOfWork(clean_database), network, transaction_id=moved
    )
    assert (state.status, retried) == ("pending", True)


def ledger_balances(database) -> dict[int, int]:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT id, balance FROM ledger_accounts ORDER BY id")
        found = dict(cur.fetchall())
        conn.rollback()
    return found
