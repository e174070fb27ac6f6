"""The settler's envelope lifecycle against real PostgreSQL and a hand-written network
(whose answers a test can script): saved before sent, every retry the same bytes, a new
envelope only when the old one provably can never apply, refusals parked, a restart
resumes what was in flight. Activation and settlement share it; the local network
tests (test_stellar_settlement.py, test_settlement_crash.py) prove the real protocol."""

from __future__ import annotations

import time
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
from app.services.transfers import TransferRequest, transfer
from app.worker.settlement import Settler
from tests.support.wallets import fund, phone_of

PASSPHRASE = "PayTrace Local Network ; development only"
CHANNEL_SEQUENCE = 4_294_967_296
NAMES = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def system(settings) -> SystemAccounts:
    return SystemAccounts.from_settings(
        settings.model_copy(update={"stellar_channels": 2}), SecretBox.from_settings(settings)
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def network(system, clock) -> FakeStellarNetwork:
    """A network whose ledgers close on the test's clock (moving it closes a ledger then)."""
    return FakeStellarNetwork(
        accounts={
            c.public_key: AccountState(c.public_key, CHANNEL_SEQUENCE, {}) for c in system.channels
        },
        close_clock=clock,
    )


def new_settler(settings, database, network, system, clock) -> Settler:
    return Settler(
        database,
        network,
        system,
        SecretBox.from_settings(settings),
        passphrase=PASSPHRASE,
        envelope_ttl_s=120,
        poll_interval_s=0.01,
        retry_base_s=0.01,
        clock=clock,
    )


@pytest.fixture
def settler(settings, clean_database, network, system, clock) -> Settler:
    return new_settler(settings, clean_database, network, system, clock)


def register(settings, database, count: int) -> list[str]:
    """count users registered: their wallets' addresses (all 'pending')."""
    box, pin_hash = (
        SecretBox.from_settings(settings),
        PinHasher.from_settings(settings).hash("4821"),
    )
    addresses = []
    for n in range(count):
        done = register_user(
            UnitOfWork(database),
            box,
            NewUser(phone_of(n), f"User {NAMES[n]}", pin_hash, "en", f"test:{n}"),
            shortcode="*384*123#",
        )
        addresses.append(done.wallet.stellar_address)
    return addresses


def rows(database, sql: str) -> list[tuple]:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(sql)
        found = cur.fetchall()
        conn.rollback()
    return found


def envelopes(database) -> list[tuple[str, str, str]]:
    return rows(
        database, "SELECT purpose, status, envelope_xdr FROM stellar_transactions ORDER BY id"
    )


def wallet_statuses(database) -> list[str]:
    return [r[0] for r in rows(database, "SELECT activation_status FROM wallets ORDER BY id")]


def run(settler: Settler, rounds: int = 200) -> None:
    """Rounds until nothing is in flight and nothing new was done."""
    for _ in range(rounds):
        busy = settler.step()
        if not busy and not settler._in_flight:
            return
        time.sleep(0.01)
    raise AssertionError("the settler did not come to rest")


def applied_but_lost(network: FakeStellarNetwork):
    """A submit the network applies but whose answer times out."""

    def submit(xdr: str) -> SubmitResult:
        network.submitted.append(xdr)
        network.apply_silently(xdr)
        return SubmitResult(Submission.RETRY, error="read timeout")

    return submit


def test_wallets_are_activated_18_to_an_envelope_saved_before_it_is_sent(
    settings, clean_database, network, settler, system
):
    addresses = register(settings, clean_database, 20)
    saved_at_submit = []
    submit = network.submit
    network.submit = lambda xdr: (
        saved_at_submit.append([status for _, status, x in envelopes(clean_database) if x == xdr]),
        submit(xdr),
    )[1]

    run(settler)

    assert saved_at_submit == [["signed"], ["signed"]]
    assert [(p, s) for p, s, _ in envelopes(clean_database)] == [("activations", "applied")] * 2
    assert wallet_statuses(clean_database) == ["active"] * 20
    first = TransactionBuilder.from_xdr(network.submitted[0], PASSPHRASE).transaction
    assert first.source.account_id in {c.public_key for c in system.channels}
    assert first.sequence == CHANNEL_SEQUENCE + 1
    assert len(first.operations) == 4 * 18
    assert [type(op).__name__ for op in first.operations[:4]] == [
        "BeginSponsoringFutureReserves",
        "CreateAccount",
        "ChangeTrust",
        "EndSponsoringFutureReserves",
    ]
    created = [op.destination for op in first.operations if type(op).__name__ == "CreateAccount"]
    assert created == addresses[:18] and first.operations[1].starting_balance == "0"


def test_retries_send_the_very_same_bytes(settings, clean_database, network, settler):
    register(settings, clean_database, 1)
    network.script(
        SubmitResult(Submission.RETRY, error="504"), StellarUnavailable("connection refused")
    )
    run(settler)
    assert len(network.submitted) == 3 and len(set(network.submitted)) == 1
    assert [s for _, s, _ in envelopes(clean_database)] == ["applied"]
    assert wallet_statuses(clean_database) == ["active"]


def test_an_answer_lost_after_the_network_applied_it_is_not_applied_twice(
    settings, clean_database, network, settler
):
    register(settings, clean_database, 1)
    submit, network.submit = network.submit, applied_but_lost(network)
    settler.step()
    settler.drain(timeout_s=0.5)  # the answer: retry
    network.submit = submit
    run(settler)  # the same bytes again: the network answers with the first result
    assert len(network.applied) == 1 and len(set(network.submitted)) == 1
    assert wallet_statuses(clean_database) == ["active"]


def answering(network: FakeStellarNetwork, first) -> None:
    """The network answers the first submission with first(xdr), the others as usual."""
    submit, calls = network.submit, []

    def answer(xdr: str) -> SubmitResult:
        calls.append(xdr)
        return first(xdr) if len(calls) == 1 else submit(xdr)

    network.submit = answer


def test_bad_sequence_with_the_hash_absent_builds_a_new_envelope(
    settings, clean_database, network, settler, system
):
    register(settings, clean_database, 1)

    def bad_sequence(xdr: str) -> SubmitResult:
        network.submitted.append(xdr)
        for channel in system.channels:  # the channels' sequences moved on meanwhile
            network.accounts[channel.public_key] = AccountState(
                channel.public_key, CHANNEL_SEQUENCE + 7, {}
            )
        return SubmitResult(Submission.BAD_SEQUENCE, result_codes={"transaction": "tx_bad_seq"})

    answering(network, bad_sequence)
    run(settler)
    assert [s for _, s, _ in envelopes(clean_database)] == ["dead", "applied"]
    rebuilt = TransactionBuilder.from_xdr(network.submitted[1], PASSPHRASE).transaction
    assert rebuilt.sequence == CHANNEL_SEQUENCE + 8


def test_an_expired_envelope_is_rebuilt_only_when_its_hash_is_absent(
    settings, clean_database, network, settler, clock
):
    register(settings, clean_database, 1)

    def unavailable_until_too_late(xdr: str) -> SubmitResult:
        network.submitted.append(xdr)
        clock.now += timedelta(seconds=121)  # past the envelope's time bound
        return SubmitResult(Submission.RETRY, error="503")

    answering(network, unavailable_until_too_late)
    run(settler)
    assert [s for _, s, _ in envelopes(clean_database)] == ["dead", "applied"]
    assert wallet_statuses(clean_database) == ["active"]


def test_an_expired_envelope_found_on_the_ledger_is_not_rebuilt(
    settings, clean_database, network, settler, clock
):
    register(settings, clean_database, 1)

    def applied_but_lost_until_too_late(xdr: str) -> SubmitResult:
        network.submitted.append(xdr)
        network.apply_silently(xdr)
        clock.now += timedelta(seconds=121)
        return SubmitResult(Submission.RETRY, error="read timeout")

    answering(network, applied_but_lost_until_too_late)
    run(settler)
    assert [s for _, s, _ in envelopes(clean_database)] == ["applied"]
    assert len(network.submitted) == 1  # found by its hash: nothing sent again
    assert wallet_statuses(clean_database) == ["active"]


def test_a_refused_activation_parks_the_wallet_unless_its_account_exists(
    settings, clean_database, network, settler
):
    _, second = register(settings, clean_database, 2)
    network.accounts[second] = AccountState(second, 1, {})  # activated before, e.g. by hand
    codes = {
        "transaction": "tx_failed",
        "operations": [
            *("op_success", "op_low_reserve", "op_success", "op_success"),
            *("op_success", "op_already_exists", "op_success", "op_success"),
        ],
    }
    network.script(SubmitResult(Submission.FAILED, result_codes=codes))
    run(settler)
    assert [s for _, s, _ in envelopes(clean_database)] == ["failed"]
    assert wallet_statuses(clean_database) == ["failed", "active"]


def test_a_refused_movement_is_parked_and_the_others_in_its_envelope_go_again(
    settings, clean_database, network, settler
):
    register(settings, clean_database, 3)
    run(settler)  # activations
    fund(clean_database, phone_of(0), 100_00, reference="a")
    fund(clean_database, phone_of(1), 100_00, reference="b")
    codes = {"transaction": "tx_failed", "operations": ["op_success", "op_no_trust"]}
    network.script(SubmitResult(Submission.FAILED, result_codes=codes))
    run(settler)
    statuses = rows(
        clean_database,
        "SELECT status, last_error FROM stellar_settlements ORDER BY transaction_id",
    )
    assert statuses == [("settled", None), ("failed", "op_no_trust")]
    # The parked movement holds back later ones spending from its parties...
    transfer(
        UnitOfWork(clean_database),
        TransferRequest(2, phone_of(2), 10_00, "after-parked", channel="api"),
    )
    run(settler)
    assert [s for s, _ in rows(clean_database, "SELECT status, 1 FROM stellar_settlements")][
        -1
    ] == "pending"


def test_a_settler_that_died_with_an_envelope_in_flight_is_resumed_with_the_same_bytes(
    settings, clean_database, network, system, clock
):
    register(settings, clean_database, 1)
    hanging = new_settler(settings, clean_database, network, system, clock)
    network.script(StellarUnavailable("connection reset"))
    hanging.step()  # signed, saved and sent; the answer never comes back: the process dies
    [(_, status, xdr)] = envelopes(clean_database)
    assert status == "signed"
    network.apply_silently(xdr)  # it had reached the network after all

    run(new_settler(settings, clean_database, network, system, clock))
    assert network.submitted[-1] == xdr and len(network.applied) == 1
    assert [s for _, s, _ in envelopes(clean_database)] == ["applied"]
    assert wallet_statuses(clean_database) == ["active"]


def test_system_accounts_come_encrypted_from_settings_with_derived_channels(settings):
    box = SecretBox.from_settings(settings)
    system = SystemAccounts.from_settings(settings, box)
    assert len({system.issuer.public_key, system.treasury.public_key, system.fee.public_key}) == 3
    assert system.asset.code == "KES" and system.asset.issuer == system.issuer.public_key
    # The setting holds the seed encrypted, never the seed itself.
    assert not settings.stellar_treasury_secret.get_secret_value().startswith("S")
    # Channels: as many as configured, distinct, and the same on every start.
    again = SystemAccounts.from_settings(settings, box)
    assert len({c.public_key for c in system.channels}) == settings.stellar_channels
    assert [c.public_key for c in again.channels] == [c.public_key for c in system.channels]
