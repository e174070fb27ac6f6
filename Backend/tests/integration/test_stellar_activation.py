"""Activation on Stellar through the outbox worker, against real PostgreSQL and a
hand-written fake network: the envelope is saved before it is sent, every retry
sends the same bytes, and a new envelope is built only when the old one provably
can never apply."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from stellar_sdk import TransactionBuilder

from app.db.unit_of_work import UnitOfWork
from app.integrations.stellar import (
    AccountState,
    FakeStellarNetwork,
    StellarUnavailable,
    Submission,
    SubmitResult,
)
from app.services.custody import SecretBox, SystemAccounts
from app.services.pins import PinHasher
from app.services.registration import NewUser, register_user
from app.worker.handlers import HandlerRegistry
from app.worker.outbox import OutboxWorker
from app.worker.stellar import StellarHandler
from tests.support.wallets import phone_of

PASSPHRASE = "PayTrace Local Network ; development only"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def system(settings) -> SystemAccounts:
    return SystemAccounts.from_settings(settings, SecretBox.from_settings(settings))


@pytest.fixture
def network(system) -> FakeStellarNetwork:
    treasury = system.treasury.public_key
    return FakeStellarNetwork(accounts={treasury: AccountState(treasury, 4_294_967_296, {})})


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def worker(settings, clean_database, network, system, clock) -> OutboxWorker:
    handler = StellarHandler(
        clean_database,
        network,
        system,
        SecretBox.from_settings(settings),
        passphrase=PASSPHRASE,
        envelope_ttl_s=120,
        clock=clock,
    )
    return OutboxWorker(clean_database, HandlerRegistry(handler), backoff=lambda n: 0.0)


@pytest.fixture
def wallet(settings, clean_database) -> str:
    """A user registered with activation queued: the wallet's address."""
    done = register_user(
        UnitOfWork(clean_database),
        SecretBox.from_settings(settings),
        NewUser(
            phone=phone_of(1),
            full_name="Jane Wanjiku",
            pin_hash=PinHasher.from_settings(settings).hash("4821"),
            language="en",
            registration_key="test:activation",
        ),
        shortcode="*384*123#",
        activate=True,
    )
    return done.wallet.stellar_address


def envelopes(database) -> list[tuple[str, str]]:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT status, envelope_xdr FROM stellar_transactions ORDER BY id")
        rows = cur.fetchall()
        conn.rollback()
    return rows


def wallet_status(database) -> str:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT activation_status FROM wallets")
        value = cur.fetchone()[0]
        conn.rollback()
    return value


def test_activation_is_saved_before_it_is_sent_and_activates_the_wallet(
    worker, network, wallet, clean_database, system
):
    saved_at_submit = []
    submit = network.submit
    network.submit = lambda xdr: (saved_at_submit.append(envelopes(clean_database)), submit(xdr))[1]

    assert worker.run_once(limit=1) == 1
    assert saved_at_submit[0] == [("signed", network.submitted[0])]
    assert envelopes(clean_database) == [("applied", network.submitted[0])]
    assert wallet_status(clean_database) == "active"
    # What was signed: the treasury's next sequence, sponsoring the user's reserves.
    tx = TransactionBuilder.from_xdr(network.submitted[0], PASSPHRASE).transaction
    assert tx.source.account_id == system.treasury.public_key
    assert tx.sequence == 4_294_967_297
    assert [type(op).__name__ for op in tx.operations] == [
        "BeginSponsoringFutureReserves",
        "CreateAccount",
        "ChangeTrust",
        "EndSponsoringFutureReserves",
    ]
    assert tx.operations[1].destination == wallet and tx.operations[1].starting_balance == "0"


def test_retries_send_the_very_same_bytes(worker, network, wallet, clean_database):
    network.script(
        SubmitResult(Submission.RETRY, error="504"), StellarUnavailable("connection refused")
    )
    worker.run_once(limit=1)
    worker.run_once(limit=1)
    worker.run_once(limit=1)
    assert len(network.submitted) == 3 and len(set(network.submitted)) == 1
    assert [status for status, _ in envelopes(clean_database)] == ["applied"]
    assert wallet_status(clean_database) == "active"


def test_an_answer_lost_after_the_network_applied_it_is_not_applied_twice(
    worker, network, wallet, clean_database
):
    # The network applies the first submission but its answer times out.
    def applied_but_lost(xdr: str) -> SubmitResult:
        network.submitted.append(xdr)
        network.apply_silently(xdr)
        return SubmitResult(Submission.RETRY, error="read timeout")

    first = network.submit
    network.submit = applied_but_lost
    worker.run_once(limit=1)
    network.submit = first
    worker.run_once(limit=1)  # resends the same bytes: the network answers with the first result
    assert len(network.applied) == 1 and len(set(network.submitted)) == 1
    assert wallet_status(clean_database) == "active"


def test_bad_sequence_with_the_hash_absent_builds_a_new_envelope(
    worker, network, wallet, clean_database, system
):
    network.script(
        SubmitResult(Submission.BAD_SEQUENCE, result_codes={"transaction": "tx_bad_seq"})
    )
    worker.run_once(limit=1)
    treasury = system.treasury.public_key
    network.accounts[treasury] = AccountState(treasury, 4_294_967_300, {})  # moved on
    worker.run_once(limit=1)
    statuses = [status for status, _ in envelopes(clean_database)]
    assert statuses == ["dead", "applied"]
    assert len(set(network.submitted)) == 2


def test_an_expired_envelope_is_rebuilt_only_when_its_hash_is_absent(
    worker, network, wallet, clean_database, clock
):
    network.script(SubmitResult(Submission.RETRY, error="503"))
    worker.run_once(limit=1)
    clock.now += timedelta(seconds=121)  # past the envelope's time bound
    worker.run_once(limit=1)
    assert [status for status, _ in envelopes(clean_database)] == ["dead", "applied"]


def test_an_expired_envelope_found_on_the_ledger_is_not_rebuilt(
    worker, network, wallet, clean_database, clock
):
    def applied_but_lost(xdr: str) -> SubmitResult:
        network.submitted.append(xdr)
        network.apply_silently(xdr)
        return SubmitResult(Submission.RETRY, error="read timeout")

    first = network.submit
    network.submit = applied_but_lost
    worker.run_once(limit=1)
    network.submit = first
    clock.now += timedelta(seconds=121)
    worker.run_once(limit=1)
    assert [status for status, _ in envelopes(clean_database)] == ["applied"]
    assert len(network.submitted) == 1  # found by its hash: nothing sent again
    assert wallet_status(clean_database) == "active"


def test_a_refused_activation_is_parked_for_an_operator(worker, network, wallet, clean_database):
    codes = {"transaction": "tx_failed", "operations": ["op_success", "op_low_reserve"]}
    network.script(SubmitResult(Submission.FAILED, result_codes=codes))
    worker.run_once(limit=1)
    assert [status for status, _ in envelopes(clean_database)] == ["failed"]
    assert wallet_status(clean_database) == "failed"
    with clean_database.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT status, last_error FROM outbox WHERE kind = 'stellar'")
        status, error = cur.fetchone()
        conn.rollback()
    assert status == "failed" and "op_low_reserve" in error


def test_a_row_whose_worker_died_mid_call_is_resumed_with_the_same_envelope(
    worker, network, wallet, clean_database
):
    # A worker claimed the row and saved its envelope, then died before any answer.
    with UnitOfWork(clean_database) as uow:
        [row] = uow.outbox.claim(kinds=["stellar"])
        uow.outbox.mark_sending(row.id, worker="dead-worker", lease_s=0)
        uow.commit()
    handler = worker._handlers.get("stellar")
    saved = handler._live_envelope(row)
    network.apply_silently(saved.envelope_xdr)

    worker.run_once(limit=1)  # reclaims the row (resumable: back to pending), then resumes it
    assert network.submitted == [saved.envelope_xdr]
    assert len(network.applied) == 1
    assert wallet_status(clean_database) == "active"


def test_system_accounts_come_encrypted_from_settings_and_refuse_a_missing_one(settings):
    box = SecretBox.from_settings(settings)
    system = SystemAccounts.from_settings(settings, box)
    assert len({system.issuer.public_key, system.treasury.public_key, system.fee.public_key}) == 3
    assert system.asset.code == "KES" and system.asset.issuer == system.issuer.public_key
    # The setting holds the seed encrypted, never the seed itself.
    assert not settings.stellar_treasury_secret.get_secret_value().startswith("S")
    with pytest.raises(ValueError, match="STELLAR_FEE_SECRET"):
        SystemAccounts.from_settings(settings.model_copy(update={"stellar_fee_secret": None}), box)
