"""Kill the settling worker (SIGKILL, a real process) after the network has applied an
envelope but before the worker recorded it; restart it: no payment is applied twice,
none is lost, and the books agree.

The worker is a real OS process running the worker's own settlement loop, against
PayTrace's local network over HTTP with ledgers closing every second, so an envelope
spends up to a second between reaching the network and being answered: the test
kills the worker inside that window and checks that the envelope did apply while its
movements were still recorded as only 'submitted'.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.db.unit_of_work import UnitOfWork
from app.integrations.stellar import Horizon
from app.services.registration import NewUser, register_user
from app.services.transfers import TransferRequest, transfer
from tests.support.stellar import (
    activate_pending,
    books,
    custody_settings,
    local_network,
    prepared_system,
)
from tests.support.wallets import SHORTCODE, fund, phone_of, registration_secrets

BACKEND_DIR = Path(__file__).resolve().parents[2]

# The worker's settlement loop, alone, in its own process; settings from argv (JSON).
SETTLER = """
import json, sys, threading
from app.config import Settings
from app.db.pool import Database
from app.worker.loops import build_loops

settings = Settings(_env_file=None, **json.loads(sys.argv[1]))
database = Database(settings.database_url, max_connections=4)
(settler,) = [loop for loop in build_loops(settings, database) if loop.name == "stellar-settlement"]
print("ready", flush=True)
settler.run_forever(threading.Event())
"""


@pytest.fixture
def settlers():
    """Every settler process the test starts; any still running when it ends (a failed
    assertion mid-round) is killed, never left behind holding connections."""
    started: list[subprocess.Popen] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def start_settler(settings, started: list[subprocess.Popen]) -> subprocess.Popen:
    args = {
        "environment": "test",
        "database_url": settings.database_url,
        "data_dir": str(settings.data_dir),
        "stellar_horizon_url": settings.stellar_horizon_url,
        "stellar_channels": settings.stellar_channels,
        # The killed settler's lease lapses this soon; the next one takes over then.
        "worker_lease_ttl_s": 1.5,
    }
    process = subprocess.Popen(
        [sys.executable, "-c", SETTLER, json.dumps(args)],
        cwd=BACKEND_DIR,
        stdout=subprocess.PIPE,
        text=True,
    )
    started.append(process)
    assert process.stdout.readline().strip() == "ready"
    return process


def rows_by_status(database) -> dict[str, list[tuple[int, str | None]]]:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT s.status, s.transaction_id, e.tx_hash FROM stellar_settlements s"
            " LEFT JOIN stellar_transactions e ON e.id = s.envelope_id"
        )
        found: dict[str, list] = {}
        for status, tx_id, tx_hash in cur.fetchall():
            found.setdefault(status, []).append((tx_id, tx_hash))
        return found


def wait_for(predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_worker_killed_between_submit_and_record_applies_nothing_twice(
    settings, clean_database, tmp_path, settlers
):
    with local_network(tmp_path / "net", close_interval_s=1.0) as net:
        custody = custody_settings(settings, net.url, stellar_channels=4)
        system = prepared_system(custody)
        horizon = Horizon(net.url)
        box, pin_hash = registration_secrets(custody)
        users = []
        for n, name in enumerate(("Amani", "Baraka", "Chiku")):
            done = register_user(
                UnitOfWork(clean_database),
                box,
                NewUser(phone_of(n), f"{name} Test", pin_hash, "en", f"crash:{n}"),
                shortcode=SHORTCODE,
            )
            users.append(done.user.id)
        activate_pending(custody, clean_database, timeout_s=60)

        caught_in_the_window = 0
        for round_ in range(4):
            for n in range(3):
                fund(clean_database, phone_of(n), 100_00, reference=f"crash-{round_}-{n}")
            for n in range(6):
                sender = (round_ + n) % 3
                transfer(
                    UnitOfWork(clean_database),
                    TransferRequest(
                        users[sender], phone_of((sender + 1) % 3), 10_00 + n, f"r{round_}:{n}"
                    ),
                )
            worker = start_settler(custody, settlers)
            in_flight = wait_for(
                lambda: rows_by_status(clean_database).get("submitted"), 20, "a submission"
            )
            time.sleep(0.3)  # the POST has reached the network; its ledger has not closed
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
            hashes = {tx_hash for _, tx_hash in in_flight}
            time.sleep(1.2)  # the network closes the ledger without the worker
            applied = {h for h in hashes if horizon.transaction_ledger(h) is not None}
            still_submitted = {h for _, h in rows_by_status(clean_database).get("submitted", [])}
            caught_in_the_window += len(applied & still_submitted)

            worker = start_settler(custody, settlers)  # resumes: resends the same bytes, records
            wait_for(lambda: set(rows_by_status(clean_database)) == {"settled"}, 60, "quiescence")
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)

        assert caught_in_the_window > 0, "the kill never landed between apply and record"
        ledger, on_chain = books(clean_database, horizon, system)
        assert on_chain == ledger
        with clean_database.connection() as conn, conn.cursor() as cur:
            cur.execute("SELECT tx_hash FROM stellar_transactions WHERE status = 'dead'")
            dead = [row[0] for row in cur.fetchall()]
        assert all(horizon.transaction_ledger(h) is None for h in dead)
