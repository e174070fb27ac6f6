"""DATABASE_REPLICA_URL: statements, history and the console's figures read the replica;
money moves through the primary.

The "replica" here is the run's own database reached as a role that may only SELECT
(made by the test): a write sent through it fails twice over (the read-only transaction
and the missing grant), and its sessions are told apart from the primary's in
pg_stat_activity by their user.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime

import httpx
import psycopg2
import psycopg2.errors
import pytest

from app.config import Settings
from app.db.pool import Database
from app.runtime import Runtime
from app.services.custody import SecretBox
from app.services.pins import PinHasher
from tests.conftest import free_port
from tests.e2e.at_gateway import AtGateway
from tests.support.console import PASSWORD, make_operator, sign_in
from tests.support.wallets import check_ledger, fund, phone_of, register

JANE, AMINA = phone_of(1), phone_of(2)
JANE_PIN = "4821"
KES = 100


def _exec(dsn: str, *statements: str) -> None:
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for sql in statements:
                cur.execute(sql)
    finally:
        conn.close()


@pytest.fixture
def reader(database_url: str) -> Iterator[tuple[str, str]]:
    """A role that may only read the run's database: (its name, a DSN as that role)."""
    role, password = f"paytrace_reader_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    _exec(
        database_url,
        f"CREATE ROLE {role} LOGIN PASSWORD '{password}'",
        f"GRANT CONNECT ON DATABASE {psycopg2.extensions.parse_dsn(database_url)['dbname']}"
        f" TO {role}",
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}",
    )
    dsn = psycopg2.extensions.make_dsn(database_url, user=role, password=password)
    yield role, dsn
    _exec(
        database_url,
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'",
        f"DROP OWNED BY {role}",  # its grants, in this database
        f"DROP ROLE {role}",
    )


@pytest.fixture
def live_settings(settings: Settings, reader: tuple[str, str]) -> Settings:
    port = free_port()
    return settings.model_copy(
        update={
            "port": port,
            "at_base_url": f"http://127.0.0.1:{port}/sandbox/at",
            "database_replica_url": reader[1],
        }
    )


def reader_sessions(database: Database, role: str) -> list[tuple[str, datetime]]:
    """(application name, when its state last changed) of the reader role's sessions."""
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT application_name, state_change FROM pg_stat_activity"
            " WHERE usename = %(role)s AND datname = current_database()",
            {"role": role},
        )
        return cur.fetchall()


def last_read(database: Database, role: str) -> datetime:
    seen = reader_sessions(database, role)
    assert seen and {name for name, _ in seen} == {"paytrace-read"}
    return max(at for _, at in seen)


@pytest.fixture
def two_users(live_settings, database):
    hasher = PinHasher.from_settings(live_settings)
    box = SecretBox.from_settings(live_settings)
    register(database, box, hasher.hash(JANE_PIN), phone=JANE, name="Jane Wanjiku")
    register(database, box, hasher.hash("5937"), phone=AMINA, name="Amina Otieno")
    fund(database, JANE, 1_000 * KES)


def test_a_read_unit_of_work_is_on_the_replica_and_cannot_write(live_settings, reader):
    role, _ = reader
    runtime = Runtime.from_settings(live_settings)
    try:
        ask = "SELECT current_user, current_setting('transaction_read_only')"
        with runtime.read_uow() as uow, uow.conn.cursor() as cur:
            cur.execute(ask)
            assert cur.fetchone() == (role, "on")
            with pytest.raises(psycopg2.errors.ReadOnlySqlTransaction):
                cur.execute("INSERT INTO kyc_tiers (tier) VALUES (99)")
        with runtime.uow() as uow, uow.conn.cursor() as cur:
            cur.execute(ask)
            user, read_only = cur.fetchone()
            assert user != role and read_only == "off"
        # Even without READ ONLY, the role may not write: a misrouted write fails.
        conn = psycopg2.connect(live_settings.database_replica_url)
        try:
            with conn.cursor() as cur, pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute("UPDATE kyc_tiers SET tier = tier WHERE false")
        finally:
            conn.close()
    finally:
        runtime.replica.close()
        runtime.database.close()


def test_without_a_replica_reads_stay_on_the_primary(settings):
    runtime = Runtime.from_settings(settings)
    try:
        assert runtime.replica is None
        with runtime.read_uow() as uow, uow.conn.cursor() as cur:
            cur.execute("SELECT current_setting('transaction_read_only')")
            assert cur.fetchone() == ("off",)
    finally:
        runtime.database.close()


def test_statements_read_the_replica_while_money_moves_on_the_primary(
    pwa, live_server, database, two_users, reader
):
    role, _ = reader
    jane = pwa.sign_in(JANE, JANE_PIN)
    assert pwa.send(jane, AMINA, 250 * KES, JANE_PIN).status_code == 201
    wallet = pwa.http.get("/wallet", headers=pwa.bearer(jane)).json()
    assert wallet["balance"] == 745 * KES  # KES 5 fee: moved on the primary
    assert reader_sessions(database, role) == []  # the money never touched the replica

    history = pwa.http.get("/wallet/transactions", headers=pwa.bearer(jane))
    assert history.status_code == 200, history.text
    assert [i["type"] for i in history.json()["items"]] == ["transfer", "cash_in"]
    after_history = last_read(database, role)

    statement = AtGateway(live_server.url, JANE).walk("6", "2", JANE_PIN)
    assert statement.startswith("CON Mini statement") and "Amina O. -255" in statement
    after_statement = last_read(database, role)
    assert after_statement > after_history  # the mini statement read it too

    bills = pwa.http.get("/bills/payments", headers=pwa.bearer(jane))
    assert bills.status_code == 200 and bills.json()["items"] == []
    assert last_read(database, role) > after_statement  # and the bill payments' history
    check_ledger(database)


def test_the_console_dashboard_reads_the_replica(live_server, live_settings, database, reader):
    role, _ = reader
    who = make_operator(live_settings, database, "operator", "ops@paytrace.test")
    with httpx.Client(base_url=live_server.url, timeout=10, follow_redirects=True) as client:
        # Signed in, the browser lands on the dashboard: read from the replica.
        assert sign_in(client, who.email, PASSWORD, who.code()).status_code == 200
        read = last_read(database, role)
        for page in ("/console", "/console/dashboard.json", "/console/figures/fees"):
            assert client.get(page).status_code == 200
            assert last_read(database, role) > read, page
            read = last_read(database, role)
