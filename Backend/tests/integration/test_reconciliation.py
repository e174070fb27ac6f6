"""Reconciliation of the ledger against PayTrace's local Stellar network, over real
HTTP and real PostgreSQL. On-chain states are made by signing KES payments here, so
that each test says exactly what the chain holds; one test lets the real settler do it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import schemathesis
from schemathesis.specs.openapi.checks import response_schema_conformance
from stellar_sdk import Keypair, TransactionBuilder

from app.cli import reconcile as reconcile_command
from app.config import Settings
from app.db import leases
from app.db.leases import Lease
from app.db.unit_of_work import UnitOfWork
from app.integrations.stellar import (
    AccountState,
    FakeStellarNetwork,
    Horizon,
    Submission,
    cents_to_amount,
    to_stroops,
)
from app.services.adjustments import reverse
from app.services.custody import SecretBox, SystemAccounts
from app.services.reconciliation import Report, reconcile
from app.services.registration import NewUser, register_user
from app.services.transfers import TransferRequest, transfer
from app.worker import loops as worker_loops
from app.worker.reconciliation import RETRY_S, ReconciliationJob
from tests.support.stellar import (
    activate_pending,
    custody_settings,
    kes_cents,
    local_network,
    prepared_system,
    settler,
)
from tests.support.wallets import SHORTCODE, fund, phone_of, registration_secrets

STROOPS_PER_CENT = to_stroops(cents_to_amount(1))


@dataclass(frozen=True)
class Custody:
    settings: Settings
    system: SystemAccounts
    horizon: Horizon


@dataclass(frozen=True)
class Wallet:
    user_id: int
    party: int  # its ledger account id
    phone: str
    keypair: Keypair


@pytest.fixture
def custody(settings, tmp_path) -> Iterator[Custody]:
    with local_network(tmp_path / "net", close_interval_s=0.05) as net:
        custody = custody_settings(settings, net.url, stellar_channels=2)
        yield Custody(custody, prepared_system(custody), Horizon(net.url))


def register(custody: Custody, database, n: int, *, activate: bool = True) -> Wallet:
    """A registered user; active on Stellar unless told otherwise."""
    box, pin_hash = registration_secrets(custody.settings)
    phone = phone_of(n)
    done = register_user(
        UnitOfWork(database),
        box,
        NewUser(phone, f"User {'ABCDEFGHIJ'[n]}", pin_hash, "en", f"test:{phone}"),
        shortcode=SHORTCODE,
    )
    if activate:
        activate_pending(custody.settings, database)
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT a.id, w.stellar_secret_ct FROM wallets w"
            " JOIN ledger_accounts a ON a.user_id = w.user_id WHERE w.user_id = %s",
            (done.user.id,),
        )
        party, secret_ct = cur.fetchone()
        conn.rollback()
    return Wallet(done.user.id, party, phone, Keypair.from_secret(box.decrypt(secret_ct)))


def pay(custody: Custody, *payments: tuple[Keypair, str, int]) -> None:
    """KES payments (payer, destination, cents) in one transaction the treasury sources."""
    treasury = custody.system.treasury
    builder = TransactionBuilder(
        custody.horizon.server.load_account(treasury.public_key),
        custody.settings.stellar_network_passphrase,
        base_fee=100,
    )
    signers = {treasury.public_key: treasury}
    for payer, destination, cents in payments:
        builder.append_payment_op(
            destination=destination,
            asset=custody.system.asset,
            amount=cents_to_amount(cents),
            source=payer.public_key,
        )
        signers[payer.public_key] = payer
    envelope = builder.set_timeout(60).build()
    for keypair in signers.values():
        envelope.sign(keypair)
    result = custody.horizon.submit(envelope.to_xdr())
    assert result.outcome is Submission.APPLIED, result


def settled(database, transaction_id: int, status: str = "settled") -> None:
    """Record a movement's settlement as the settler would (its payments were made here)."""
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE stellar_settlements SET status = %(status)s,"
            " settled_at = CASE WHEN %(status)s = 'settled' THEN now() END"
            " WHERE transaction_id = %(id)s",
            {"status": status, "id": transaction_id},
        )
        assert cur.rowcount == 1
        conn.commit()


def last_transaction(database) -> int:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT max(id) FROM journal_transactions")
        value = cur.fetchone()[0]
        conn.rollback()
    return value


def cash_in(custody: Custody, database, wallet: Wallet, cents: int, *, on_chain: bool) -> int:
    """A cash-in in the ledger; with on_chain, the issuer's payment too, and settled."""
    fund(database, wallet.phone, cents, reference=f"ci-{wallet.phone}-{cents}-{on_chain}")
    tx_id = last_transaction(database)
    if on_chain:
        pay(custody, (custody.system.issuer, wallet.keypair.public_key, cents))
        settled(database, tx_id)
    return tx_id


def send(
    custody: Custody, database, sender: Wallet, to: Wallet, cents: int, *, on_chain: bool
) -> tuple[int, int]:
    """A transfer in the ledger (id, fee); with on_chain, its payments too, and settled."""
    moved = transfer(
        UnitOfWork(database),
        TransferRequest(sender.user_id, to.phone, cents, f"t-{sender.phone}-{cents}", "api"),
    )
    if on_chain:
        payments = [(sender.keypair, to.keypair.public_key, cents)]
        if moved.fee:
            payments.append((sender.keypair, custody.system.treasury.public_key, moved.fee))
        pay(custody, *payments)
        settled(database, moved.transaction_id)
    return moved.transaction_id, moved.fee


def run(custody: Custody, database, **kwargs) -> Report:
    kwargs.setdefault("recheck_delay_s", 0.0)
    return reconcile(UnitOfWork(database), custody.horizon, custody.system, **kwargs)


def stored_reports(database) -> list[tuple[int, int, int]]:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT id, accounts, drifts FROM reconciliation_reports ORDER BY id")
        rows = cur.fetchall()
        conn.rollback()
    return rows


# ---- the books agree ----------------------------------------------------------------------


def test_settled_books_agree_party_by_party_and_the_report_is_stored(custody, clean_database):
    a, b, c = (register(custody, clean_database, n) for n in range(3))
    cash_in(custody, clean_database, a, 500_00, on_chain=True)
    _, fee = send(custody, clean_database, a, b, 200_00, on_chain=True)
    assert fee > 0  # the treasury holds it

    report = run(custody, clean_database, batch_size=2)  # pages: [a, b], [c]

    assert report.sound and report.drift_count == 0 and report.drifting == []
    assert report.accounts == 4  # three wallets and the treasury
    assert report.explained == [] and report.rechecked == 0
    assert report.inactive_wallets == 0 and report.awaiting_activation == []
    treasury = report.treasury
    assert treasury.address == custody.system.treasury.public_key
    assert (treasury.ledger_balance, treasury.actual_on_chain, treasury.drift) == (fee, fee, 0)
    totals = report.totals
    assert totals.on_chain_held == totals.issuer_side_ledger == 500_00
    assert totals.difference == totals.unsettled_effect == 0
    assert stored_reports(clean_database) == [(report.id, 4, 0)]
    assert c.party  # c holds nothing on either side, and agrees


def test_what_the_settler_mirrors_reconciles_with_no_drift(custody, clean_database):
    a, b = (register(custody, clean_database, n) for n in range(2))
    cash_in(custody, clean_database, a, 800_00, on_chain=False)
    send(custody, clean_database, a, b, 300_00, on_chain=False)
    moved, _ = send(custody, clean_database, b, a, 100_00, on_chain=False)
    reverse(UnitOfWork(clean_database), transaction_id=moved)

    before = run(custody, clean_database)
    assert before.sound and before.explained_count == 3  # a, b and the treasury: pending

    settler(custody.settings, clean_database, custody.system).settle_all()
    after = run(custody, clean_database)

    assert after.sound and after.explained_count == 0
    assert after.totals.on_chain_held == after.totals.issuer_side_ledger == 800_00


# ---- drift --------------------------------------------------------------------------------


def test_an_on_chain_balance_off_the_ledger_is_a_drift_with_its_amount(custody, clean_database):
    a, b = (register(custody, clean_database, n) for n in range(2))
    cash_in(custody, clean_database, a, 500_00, on_chain=True)
    pay(custody, (custody.system.issuer, a.keypair.public_key, 1_00))  # not in the ledger
    # b's cash-in is recorded as settled, but its payment never happened.
    tx_id = cash_in(custody, clean_database, b, 300_00, on_chain=False)
    settled(clean_database, tx_id)

    report = run(custody, clean_database)

    assert not report.sound and report.drift_count == 2 and report.rechecked == 2
    lines = {line.party: line for line in report.drifting}
    assert lines[a.party].expected_on_chain == 500_00
    assert lines[a.party].actual_on_chain == 501_00 and lines[a.party].drift == 1_00
    assert lines[b.party].expected_on_chain == 300_00
    assert lines[b.party].actual_on_chain == 0 and lines[b.party].drift == -300_00
    assert lines[a.party].problem is None and lines[a.party].unsettled == ()
    assert report.totals.difference == 300_00 - 1_00  # issuer side - held: minus the drifts
    assert stored_reports(clean_database) == [(report.id, 3, 2)]
    stored = report.body()["drifting"]
    assert {(line["party"], line["drift"]) for line in stored} == {
        (a.party, 1_00),
        (b.party, -300_00),
    }


def test_accounts_stellar_cannot_show_in_whole_cents_are_drifts(settings, clean_database):
    """Against a hand-written network: an active wallet with no account, one with no KES
    trustline, one holding a fraction of a cent."""
    system = SystemAccounts.from_settings(settings, SecretBox.from_settings(settings))
    custody = Custody(settings, system, Horizon("http://127.0.0.1:9"))
    wallets = [register(custody, clean_database, n, activate=False) for n in range(3)]
    with clean_database.connection() as conn, conn.cursor() as cur:
        cur.execute("UPDATE wallets SET activation_status = 'active'")
        conn.commit()
    kes = f"{system.asset.code}:{system.asset.issuer}"
    treasury = system.treasury.public_key
    accounts = {
        treasury: AccountState(treasury, 1, {"native": 10**9, kes: 0}),
        wallets[1].keypair.public_key: AccountState("", 1, {"native": 0}),
        wallets[2].keypair.public_key: AccountState("", 1, {kes: 12 * STROOPS_PER_CENT + 3}),
    }

    report = reconcile(
        UnitOfWork(clean_database), FakeStellarNetwork(accounts=accounts), system, recheck_delay_s=0
    )

    problems = {line.party: (line.problem, line.actual_on_chain) for line in report.drifting}
    assert problems == {
        wallets[0].party: ("no_account", None),
        wallets[1].party: ("no_trustline", None),
        wallets[2].party: ("fraction_of_a_cent", 12),
    }
    assert report.drift_count == 3 and report.treasury.drift == 0


# ---- differences that are explained -------------------------------------------------------


def test_movements_not_yet_settled_explain_a_difference_and_are_listed(custody, clean_database):
    a, b = (register(custody, clean_database, n) for n in range(2))
    deposit = cash_in(custody, clean_database, a, 500_00, on_chain=False)
    moved, fee = send(custody, clean_database, a, b, 200_00, on_chain=False)
    settled(clean_database, moved, "failed")  # parked for an operator: still unsettled
    # Not active on Stellar yet: its money is on the ledger only.
    c = register(custody, clean_database, 2, activate=False)
    cash_in(custody, clean_database, c, 300_00, on_chain=False)
    register(custody, clean_database, 3, activate=False)  # holds nothing

    report = run(custody, clean_database)

    assert report.sound and report.rechecked == 0
    assert report.accounts == 3 and report.explained_count == 3
    lines = {line.party: line for line in report.explained}
    line = lines[a.party]
    assert line.ledger_balance == 500_00 - 200_00 - fee
    assert (line.expected_on_chain, line.actual_on_chain, line.drift) == (0, 0, 0)
    assert [(m.transaction_id, m.kind, m.status, m.effect) for m in line.unsettled] == [
        (deposit, "cash_in", "pending", 500_00),
        (moved, "transfer", "failed", -(200_00 + fee)),
    ]
    assert line.unsettled[0].reference.isalnum() and line.unsettled_movements == 2
    assert lines[b.party].unsettled_effect == 200_00
    assert lines[0].unsettled_effect == fee == report.treasury.ledger_balance
    assert report.inactive_wallets == 2 and report.awaiting_activation_count == 1
    (awaiting,) = report.awaiting_activation
    assert (awaiting.party, awaiting.ledger_balance) == (c.party, 300_00)
    assert awaiting.activation_status == "pending"
    totals = report.totals
    assert totals.on_chain_held == 0 and totals.issuer_side_ledger == 800_00
    assert totals.difference == totals.unsettled_effect + totals.awaiting_activation_balance


class SettlesDuringTheRun:
    """The network, with one movement settling (by the settler, elsewhere) between the
    run's database read of a party and its on-chain read."""

    def __init__(self, custody: Custody, database, wallet: Wallet, tx_id: int, cents: int):
        self._custody, self._database = custody, database
        self._wallet, self._tx_id, self._cents = wallet, tx_id, cents
        self.done = False

    def account(self, address: str) -> AccountState | None:
        if address == self._wallet.keypair.public_key and not self.done:
            self.done = True
            pay(self._custody, (self._custody.system.issuer, address, self._cents))
            settled(self._database, self._tx_id)
        return self._custody.horizon.account(address)


def test_a_movement_settling_mid_run_is_read_again_not_reported(custody, clean_database):
    a = register(custody, clean_database, 0)
    tx_id = cash_in(custody, clean_database, a, 250_00, on_chain=False)
    network = SettlesDuringTheRun(custody, clean_database, a, tx_id, 250_00)

    report = reconcile(UnitOfWork(clean_database), network, custody.system, recheck_delay_s=0)

    assert network.done and kes_cents(custody.horizon, custody.system, a.keypair.public_key)
    assert report.sound and report.rechecked == 1 and report.explained == []
    assert report.totals.on_chain_held == 250_00 and report.totals.unsettled_effect == 0


# ---- the admin API -------------------------------------------------------------------------


def test_the_admin_api_answers_404_then_the_latest_report(
    custody, clean_database, live_server, live_settings
):
    token = live_settings.admin_token.get_secret_value()
    with httpx.Client(
        base_url=f"{live_server.url}/api/v1/admin",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    ) as admin:
        none_yet = admin.get("/reconciliation")
        assert none_yet.status_code == 404
        assert none_yet.json() == {
            "error": "not_found",
            "detail": "no reconciliation has run yet",
        }

        a = register(custody, clean_database, 0)
        cash_in(custody, clean_database, a, 500_00, on_chain=True)
        run(custody, clean_database)
        pay(custody, (custody.system.issuer, a.keypair.public_key, 2_50))
        latest = run(custody, clean_database)

        answer = admin.get("/reconciliation")
        assert httpx.get(f"{live_server.url}/api/v1/admin/reconciliation").status_code == 401
        # The very answer, checked against the OpenAPI schema the server publishes.
        schema = schemathesis.openapi.from_dict(admin.get(f"{live_server.url}/openapi.json").json())
        operation = schema["/api/v1/admin/reconciliation"]["GET"]
        checked = operation.Case(headers={"Authorization": f"Bearer {token}"}).call_and_validate(
            base_url=live_server.url, checks=[response_schema_conformance]
        )
        assert checked.status_code == 200

    assert answer.status_code == 200
    body = answer.json()
    assert body["id"] == latest.id and body["accounts"] == 2
    assert body["drifts"] == 1 and body["sound"] is False
    (drift,) = body["drifting"]
    assert (drift["party"], drift["kind"], drift["drift"]) == (a.party, "wallet", 2_50)
    assert drift["address"] == a.keypair.public_key
    assert body["treasury"]["party"] == 0 and body["totals"]["on_chain_held"] == 502_50
    assert datetime.fromisoformat(body["finished_at"]) >= datetime.fromisoformat(body["started_at"])


# ---- the command -------------------------------------------------------------------------


@pytest.fixture
def command_env(custody, clean_database, monkeypatch):
    monkeypatch.setenv("ENVIRONMENT", "test")
    monkeypatch.setenv("DATA_DIR", str(custody.settings.data_dir))  # the same dev secrets
    monkeypatch.setenv("DATABASE_URL", clean_database.dsn)
    monkeypatch.setenv("STELLAR_HORIZON_URL", custody.settings.stellar_horizon_url)
    return monkeypatch


def test_the_command_exits_0_when_the_books_agree_and_1_on_drift(
    custody, clean_database, command_env, capsys
):
    a = register(custody, clean_database, 0)
    cash_in(custody, clean_database, a, 500_00, on_chain=True)

    assert reconcile_command.main() == 0
    out = capsys.readouterr().out
    assert "2 account(s) checked" in out and "no drift" in out

    pay(custody, (custody.system.issuer, a.keypair.public_key, 1_00))
    assert reconcile_command.main() == 1
    out = capsys.readouterr().out
    assert "DRIFT on 1 account(s)" in out
    assert f"wallet {a.party} {a.keypair.public_key}" in out and "drift +KES 1" in out
    assert [drifts for _, _, drifts in stored_reports(clean_database)] == [0, 1]


def test_the_command_exits_2_on_bad_settings_and_3_when_it_cannot_see_stellar(
    custody, clean_database, command_env, capsys
):
    command_env.setenv("STELLAR_HORIZON_URL", "")
    assert reconcile_command.main() == 2
    assert "STELLAR_HORIZON_URL is not set" in capsys.readouterr().err

    command_env.setenv("STELLAR_HORIZON_URL", "http://127.0.0.1:9")
    command_env.setenv("DATABASE_URL", "")
    assert reconcile_command.main() == 2
    assert "DATABASE_URL is not set" in capsys.readouterr().err

    command_env.setenv("DATABASE_URL", clean_database.dsn)
    command_env.setenv("STELLAR_TIMEOUT_S", "2")
    assert reconcile_command.main() == 3
    assert "could not reconcile" in capsys.readouterr().err
    assert stored_reports(clean_database) == []


# ---- the worker's job --------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def test_the_job_runs_once_per_interval_and_one_worker_at_a_time(custody, clean_database):
    clock = Clock()
    job = ReconciliationJob(
        clean_database,
        custody.horizon,
        custody.system,
        interval_s=3600,
        clock=clock,
        recheck_delay_s=0,
    )
    assert job.run_if_due() == 3600 and len(stored_reports(clean_database)) == 1

    clock.now += timedelta(minutes=10)
    assert 2999 <= job.run_if_due() <= 3001  # not due: nothing runs
    assert len(stored_reports(clean_database)) == 1

    clock.now += timedelta(hours=1)
    other = Lease(clean_database, leases.RECONCILIATION)  # another worker is reconciling
    assert other.held()
    try:
        assert job.run_if_due() == RETRY_S
        assert len(stored_reports(clean_database)) == 1
    finally:
        other.release()

    assert job.run_if_due() == 3600 and len(stored_reports(clean_database)) == 2


def test_the_worker_runs_the_job_unless_its_interval_is_0(custody, clean_database):
    names = [loop.name for loop in worker_loops.build_loops(custody.settings, clean_database)]
    assert "stellar-reconciliation" in names
    off = custody.settings.model_copy(update={"reconciliation_interval_s": 0})
    names = [loop.name for loop in worker_loops.build_loops(off, clean_database)]
    assert "stellar-reconciliation" not in names

    job = ReconciliationJob.from_settings(custody.settings, clean_database)
    stop = threading.Event()
    thread = threading.Thread(target=job.run_forever, args=(stop,))
    thread.start()
    try:
        for _ in range(200):
            if stored_reports(clean_database):
                break
            stop.wait(0.05)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive() and len(stored_reports(clean_database)) == 1
