"""`make -C Backend bench-settlement`: how fast committed transfers settle on Stellar.

In a scratch database and a fresh local Stellar network (its own process, ledgers
closing every --close-interval seconds), it registers and activates N users, funds
them (those deposits settle first, unmeasured), then commits transfers through the
real service layer at --rate per second for --duration seconds while the worker's
settler runs, and waits until every one has settled. It prints settled movements/s,
the settlement lag (from the transfer's commit to its settlement being recorded)
p50/p99/max in seconds and in ledger closes against the target (p99 under two
closes at 200 transfers/s), and checks that every on-chain balance equals the ledger.

    python -m bench.settlement_load [--users 2000] [--rate 200] [--duration 10]
                                    [--close-interval 1.0] [--channels 32]
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx

from app.config import Settings
from app.db.pool import Database
from app.db.unit_of_work import UnitOfWork
from app.errors import InsufficientFunds
from app.integrations.stellar import Horizon, cents_to_amount, to_stroops
from app.services.adjustments import cash_in
from app.services.custody import SecretBox, SystemAccounts
from app.services.custody_bootstrap import prepare_development_network
from app.services.pins import PinHasher
from app.services.registration import NewUser, register_user
from app.services.transfers import TransferRequest, transfer
from app.worker.settlement import Settler
from bench.scratch_db import scratch_database, server_summary

BACKEND_DIR = Path(__file__).resolve().parents[1]
SHORTCODE = "*384*123#"
FUNDING = 5_000_00  # KES 5,000 per user
TARGET_CLOSES_P99 = 2.0
TARGET_RATE = 200


def phone_of(n: int) -> str:
    return f"+25472{n:07d}"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_network(data_dir: Path, port: int, close_interval: float, passphrase: str):
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [
            sys.executable,
            "-m",
            "app.sandboxes.stellar",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
            "--passphrase",
            passphrase,
            "--close-interval",
            str(close_interval),
            "--log-level",
            "warning",
        ],
        cwd=BACKEND_DIR,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise SystemExit("the local Stellar network did not start")


def register_users(database: Database, box: SecretBox, count: int) -> list[tuple[int, str, str]]:
    """(user id, phone, address) for count users registered through the real service."""
    pin_hash = PinHasher("bench-pepper", time_cost=1, memory_kib=1024).hash("4826")

    def one(n: int) -> tuple[int, str, str]:
        new = NewUser(phone_of(n), "Bench User", pin_hash, "en", f"bench:{n}")
        done = register_user(UnitOfWork(database), box, new, shortcode=SHORTCODE)
        return done.user.id, new.phone, done.wallet.stellar_address

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, range(count)))


def wait_settled(database: Database, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with database.connection() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT (SELECT count(*) FROM stellar_settlements WHERE status <> 'settled')"
                " + (SELECT count(*) FROM wallets WHERE activation_status = 'pending')"
            )
            if cur.fetchone()[0] == 0:
                return
        time.sleep(0.05)
    raise SystemExit("settlement did not finish in time")


def post_transfers(
    dsn: str, users: list[tuple[int, str, str]], rate: float, duration: float
) -> tuple[int, int, float]:
    """Commit transfers in a separate process, as the API would (not competing with the
    settler for this process's interpreter lock); returns (posted, refused, seconds)."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_post_transfers, (dsn, users, rate, duration))


def _post_transfers(
    dsn: str, users: list[tuple[int, str, str]], rate: float, duration: float
) -> tuple[int, int, float]:
    """Open-loop: transfers due at `rate` per second, from 16 threads."""
    database = Database(dsn, max_connections=16)
    threads = 16
    posted = refused = 0
    lock = threading.Lock()
    start = time.monotonic() + 0.2

    def worker(index: int) -> None:
        nonlocal posted, refused
        rng = random.Random(index)
        n = 0
        while True:
            due = start + (index + n * threads) / rate
            if due - start >= duration:
                return
            time.sleep(max(0.0, due - time.monotonic()))
            sender, recipient = rng.sample(users, 2)
            try:
                transfer(
                    UnitOfWork(database),
                    TransferRequest(
                        sender[0], recipient[1], rng.randint(100, 50_000), f"b:{index}:{n}"
                    ),
                )
                with lock:
                    posted += 1
            except InsufficientFunds:
                with lock:
                    refused += 1
            n += 1

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    took = time.monotonic() - start
    database.close()
    return posted, refused, took


def lag_figures(database: Database, since: datetime) -> dict[str, float]:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(
            """
            SELECT count(*),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY lag),
                   percentile_cont(0.99) WITHIN GROUP (ORDER BY lag),
                   max(lag),
                   extract(epoch FROM max(settled_at) - min(created_at)),
                   count(DISTINCT envelope_id)
            FROM (SELECT extract(epoch FROM settled_at - created_at) AS lag, settled_at,
                         created_at, envelope_id
                  FROM stellar_settlements WHERE created_at >= %s) s
            """,
            (since,),
        )
        count, p50, p99, worst, span, envelopes = cur.fetchone()
    return {
        "settled": int(count),
        "p50": float(p50 or 0),
        "p99": float(p99 or 0),
        "max": float(worst or 0),
        "span": float(span or 0),
        "envelopes": int(envelopes),
    }


def books_agree(database: Database, horizon: Horizon, system: SystemAccounts) -> tuple[int, int]:
    """(accounts checked, accounts whose on-chain KES differs from the ledger)."""
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT w.stellar_address, a.balance FROM wallets w"
            " JOIN ledger_accounts a ON a.user_id = w.user_id"
        )
        expected = dict(cur.fetchall())
        cur.execute("SELECT coalesce(sum(balance), 0) FROM ledger_accounts WHERE kind = 'fees'")
        expected[system.treasury.public_key] = int(cur.fetchone()[0])
    key, cent = f"{system.asset.code}:{system.asset.issuer}", to_stroops(cents_to_amount(1))
    drift = 0
    for address, cents in expected.items():
        account = horizon.account(address)
        if account is None or account.balances.get(key, -1) != cents * cent:
            drift += 1
    return len(expected), drift


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=TARGET_RATE, help="transfers per second")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load")
    parser.add_argument("--close-interval", type=float, default=1.0, help="ledger close, s")
    parser.add_argument("--channels", type=int, default=32)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with scratch_database("paytrace_bench_settle") as scratch, tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            _env_file=None,
            environment="test",
            database_url=scratch.dsn,
            data_dir=Path(tmp),
            stellar_channels=args.channels,
        )
        network, url = start_network(
            Path(tmp) / "net", free_port(), args.close_interval, settings.stellar_network_passphrase
        )
        stop = threading.Event()
        try:
            print(f"PostgreSQL: {server_summary(scratch.dsn)}")
            print(
                f"local Stellar network: ledgers every {args.close_interval} s,"
                f" {args.channels} channel accounts"
            )
            database = Database(scratch.dsn, max_connections=32)
            box = SecretBox.from_settings(settings)
            system = SystemAccounts.from_settings(settings, box)
            prepare_development_network(url, system, settings.stellar_network_passphrase)
            horizon = Horizon(url)
            started = time.monotonic()
            users = register_users(database, box, args.users)
            settler = Settler(
                database,
                horizon,
                system,
                box,
                passphrase=settings.stellar_network_passphrase,
                envelope_ttl_s=settings.stellar_envelope_ttl_s,
                poll_interval_s=0.02,
                batch_window_s=settings.stellar_batch_window_s,
            )
            thread = threading.Thread(target=settler.run_forever, args=(stop,), daemon=True)
            activating = time.monotonic()
            thread.start()
            wait_settled(database, 300)  # nothing posted yet: the activations
            activated = time.monotonic() - activating
            with database.connection() as conn, conn.cursor() as cur:
                cur.execute(
                    "SELECT count(*) FROM stellar_transactions WHERE purpose = 'activations'"
                )
                activation_txs = cur.fetchone()[0]
                conn.rollback()
            print(
                f"activation: {args.users} wallets on-chain in {activated:.1f} s"
                f" ({args.users / activated:.0f}/s) in {activation_txs} Stellar transactions"
            )
            with ThreadPoolExecutor(8) as pool:
                list(
                    pool.map(
                        lambda u: cash_in(
                            UnitOfWork(database), phone=u[1], amount=FUNDING, reference=u[1]
                        ),
                        users,
                    )
                )
            wait_settled(database, 300)
            print(
                f"set-up: {args.users} users registered, activated on-chain by the settler,"
                f" funded and settled in {time.monotonic() - started:.1f} s"
            )

            since = datetime.now(UTC)
            posted, refused, load_took = post_transfers(
                scratch.dsn, users, args.rate, args.duration
            )
            wait_settled(database, 300)
            figures = lag_figures(database, since)
            stop.set()
            thread.join(timeout=60)
            checked, drift = books_agree(database, horizon, system)
        finally:
            stop.set()
            network.terminate()
            network.wait(timeout=30)
    closes = args.close_interval
    print(
        f"committed: {posted} transfers in {load_took:.1f} s ({posted / load_took:.0f}/s,"
        f" target rate {args.rate:.0f}/s); refused for funds: {refused}"
    )
    print(
        f"settled: {figures['settled']} movements in {figures['envelopes']} Stellar"
        f" transactions; {figures['settled'] / max(figures['span'], 1e-9):.0f} settled/s"
        f" from first commit to last settlement"
    )
    print(
        f"settlement lag: p50 {figures['p50']:.2f} s ({figures['p50'] / closes:.2f} closes),"
        f" p99 {figures['p99']:.2f} s ({figures['p99'] / closes:.2f} closes),"
        f" max {figures['max']:.2f} s"
    )
    met = figures["p99"] / closes < TARGET_CLOSES_P99 and posted / load_took >= 0.95 * TARGET_RATE
    print(
        f"target: p99 under {TARGET_CLOSES_P99:.0f} ledger closes at {TARGET_RATE}"
        f" transfers/s: {'met' if met else 'NOT met'}"
    )
    print(f"books: {checked} accounts checked on-chain, {drift} differ from the ledger")
    return 0 if drift == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
