"""`make -C Backend bench-ledger`: transfers/s through the real service layer.

In a scratch database (see bench.scratch_db) it registers and funds N users
through the real services, traces one transfer's round trips, then runs three
phases of `app.services.transfers.transfer` from T concurrent workers: "spread"
(random sender and recipient), "hot" (everyone pays one wallet, the lowest id of
all, so locked first) and "hot-last" (the same wallet marked locked last by the
operators' own call, app.services.lock_order), and one of
`app.services.harambee.contributions.contribute`: "campaign" (everyone contributes
to one harambee: its escrow, in eight shards, is the hot account), and one of
`app.services.merchant_payments.payments.pay`: "merchant" (everyone pays one till:
the merchant's account is the hot account). Each phase
is preceded by its floor, measured the same way in the same run: a one-row
`UPDATE ... SET n = n + 1` and COMMIT per operation, through the same pool and
driver (spread over many rows, or onto one row), and the same SQL from pgbench
(C, no Python). It prints transfers/s, p50/p99, refusals, errors, the ratio to
each floor and the PRODUCT.md targets, then checks the ledger's invariants.

    python -m bench.ledger_load [--users 2000] [--threads 16] [--procs 1] [--duration 10]
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime

from cryptography.fernet import Fernet

from app.db.pool import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.merchants import FeeRule
from app.services import lock_order, merchants, statements
from app.services.adjustments import cash_in
from app.services.custody import SecretBox
from app.services.harambee.campaigns import start_campaign
from app.services.harambee.contributions import ContributionRequest, contribute
from app.services.lock_order import Owner
from app.services.merchant_payments import payments as merchant_payments
from app.services.merchant_payments.payments import MerchantPaymentRequest
from app.services.pins import PinHasher
from app.services.registration import NewUser, register_user
from app.services.transfers import TransferRequest, transfer
from bench import floors, pgbouncer
from bench.ledger_trace import OneConnection, trace
from bench.ledger_workers import OperationFactory, PhaseResult, run_phase
from bench.scratch_db import scratch_database, server_summary

# PRODUCT.md, "Quality bars": ledger alone, on a 2-core machine.
TARGETS = {"spread": 2000, "hot": 1000, "hot-last": 1000, "campaign": 1000, "merchant": 1000}
BENCH_TILL = "598765"
_RUNS = itertools.count()
FUNDING = 10_000_000  # KES 100,000 per user: no transfer in a run is refused for funds
SHORTCODE = "*384*123#"


def phone_of(n: int) -> str:
    return f"+25471{n:07d}"


def random_amount(rng: random.Random) -> int:
    """Half fee-free (KES 1-100), half fee-bearing (KES 100.01-1,000): the fee leg too."""
    return rng.randint(100, 10_000) if rng.random() < 0.5 else rng.randint(10_001, 100_000)


def set_up_users(dsn: str, count: int, workers: int = 8) -> tuple[list[tuple[int, str]], str]:
    """Register and fund count users through the real services; returns them and timings."""
    database = Database(dsn, max_connections=workers)
    box = SecretBox([Fernet.generate_key().decode()])
    # One argon2id hash for all: hashing is the registration channel's work, not ours.
    pin_hash = PinHasher("bench-pepper", time_cost=2, memory_kib=19456).hash("4826")

    def register(n: int) -> tuple[int, str]:
        new = NewUser(phone_of(n), "Bench User", pin_hash, "en", f"bench:{phone_of(n)}")
        return register_user(UnitOfWork(database), box, new, shortcode=SHORTCODE).user.id, new.phone

    def fund(phone: str) -> None:
        cash_in(UnitOfWork(database), phone=phone, amount=FUNDING, reference=f"bench-{phone}")

    started = time.monotonic()
    with ThreadPoolExecutor(workers) as pool:
        users = list(pool.map(register, range(count)))
        registered = time.monotonic()
        list(pool.map(fund, [phone for _, phone in users]))
    funded = time.monotonic()
    database.close()
    took = f"registered in {registered - started:.1f} s, funded in {funded - registered:.1f} s"
    return users, took


def transfers(users: list[tuple[int, str]], phase: str) -> OperationFactory:
    """Random distinct sender and recipient (or, in the hot phases, every sender to
    users[0]), keys unique to the phase."""
    hot = phase != "spread"
    run = next(_RUNS)  # a phase run twice in one bench keeps its keys apart

    def make(database: Database, rng: random.Random, tag: str) -> Callable[[], object]:
        counter = iter(range(1 << 62))

        def one() -> object:
            if hot:
                recipient, sender = users[0], users[rng.randrange(1, len(users))]
            else:
                sender, recipient = rng.sample(users, 2)
            request = TransferRequest(
                sender_user_id=sender[0],
                recipient_phone=recipient[1],
                amount=random_amount(rng),
                idempotency_key=f"bench:{phase}:{run}:{tag}:{next(counter)}",
            )
            return transfer(UnitOfWork(database), request)

        return one

    return make


@contextmanager
def hot_wallet_locked_last(dsn: str, phone: str, marked: bool) -> Iterator[None]:
    """The hot wallet marked locked last for the block (if `marked`), through the
    operators' own service, and unmarked after it: the other phases see id order."""
    if not marked:
        yield
        return
    database = Database(dsn, max_connections=1)
    try:
        lock_order.mark_locked_last(UnitOfWork(database), Owner(phone), True)
        yield
        lock_order.mark_locked_last(UnitOfWork(database), Owner(phone), False)
    finally:
        database.close()


def open_campaign(dsn: str, organiser: int) -> int:
    """A harambee everyone will contribute to, started through the real service."""
    database = Database(dsn, max_connections=1)
    try:
        started = start_campaign(
            UnitOfWork(database),
            organiser_user_id=organiser,
            title="Bench harambee",
            target_amount=10_000_000_000,
            key="bench",
            shortcode=SHORTCODE,
        )
    finally:
        database.close()
    return started.campaign.id


def contributions(users: list[tuple[int, str]], campaign_id: int) -> OperationFactory:
    """Every worker's users contribute to one campaign (its escrow locked by each), unique keys."""

    run = next(_RUNS)

    def make(database: Database, rng: random.Random, tag: str) -> Callable[[], object]:
        counter = iter(range(1 << 62))

        def one() -> object:
            user_id = users[rng.randrange(1, len(users))][0]
            request = ContributionRequest(
                user_id=user_id,
                campaign_id=campaign_id,
                amount=random_amount(rng),
                idempotency_key=f"bench:campaign:{run}:{tag}:{next(counter)}",
            )
            return contribute(UnitOfWork(database), request)

        return one

    return make


def open_merchant(dsn: str) -> None:
    """A merchant everyone will pay at its till, onboarded through the real service."""
    database = Database(dsn, max_connections=1)
    try:
        merchants.onboard(
            UnitOfWork(database),
            merchants.Application(
                legal_name="Bench Supermarket Ltd",
                display_name="BENCH SUPERMARKET",
                till_number=BENCH_TILL,
                contact_phone=phone_of(1_000_001),
                payout_phone=phone_of(1_000_002),
                payout_schedule="daily",
                fee=FeeRule(50, 0, 20_000),
            ),
        )
    finally:
        database.close()


def till_payments(users: list[tuple[int, str]]) -> OperationFactory:
    """Every worker's users pay one merchant's till (its account locked by each)."""
    run = next(_RUNS)

    def make(database: Database, rng: random.Random, tag: str) -> Callable[[], object]:
        counter = iter(range(1 << 62))

        def one() -> object:
            request = MerchantPaymentRequest(
                payer_user_id=users[rng.randrange(1, len(users))][0],
                till=BENCH_TILL,
                amount=random_amount(rng),
                idempotency_key=f"bench:merchant:{run}:{tag}:{next(counter)}",
            )
            return merchant_payments.pay(UnitOfWork(database), request)

        return one

    return make


def check_ledger(dsn: str) -> dict[str, int]:
    """The ledger's invariants from scratch (the operators' check), and the transfers."""
    database = Database(dsn, max_connections=1)
    try:
        check = statements.check_ledger(UnitOfWork(database))
        with database.connection() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM journal_transactions"
                " WHERE kind IN ('transfer', 'contribution', 'merchant_payment')"
            )
            transfers_in_journal = cur.fetchone()[0]
            conn.rollback()
    finally:
        database.close()
    return {
        "sum of legs": check.sum_of_all_legs,
        "sum of balances": check.sum_of_all_balances,
        "negative wallets": check.negative_wallets,
        "balance <> sum of legs": check.balances_not_equal_to_legs,
        "unbalanced transactions": check.unbalanced_transactions,
        "movements in journal": transfers_in_journal,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=2000, help="registered, funded users")
    parser.add_argument("--threads", type=int, default=16, help="concurrent workers in all")
    parser.add_argument(
        "--procs",
        type=int,
        default=1,
        help="processes the threads are split over (default 1: threads in one process, "
        "as the API runs them; measured no faster with 2, see docs/benchmarks.md)",
    )
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per phase")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds first")
    parser.add_argument("--trace", type=int, default=300, help="transfers to trace (0: none)")
    parser.add_argument(
        "--phases",
        default="spread,hot,hot-last,campaign,merchant",
        help="any of spread, hot, hot-last, campaign, merchant",
    )
    parser.add_argument("--no-pgbench", action="store_true", help="skip the pgbench floor")
    parser.add_argument(
        "--pgbouncer",
        type=int,
        default=0,
        metavar="SERVER_CONNECTIONS",
        help="everything (floors too) through a local PgBouncer in transaction mode with this"
        " many server connections (default 0: straight to PostgreSQL)",
    )
    args = parser.parse_args(argv)
    args.phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    if set(args.phases) - set(TARGETS) or not args.phases:
        parser.error("--phases takes spread, hot, hot-last, campaign and/or merchant")
    if not 10 <= args.users <= 100_000 or not 1 <= args.threads <= 64:
        parser.error("--users must be 10..100000 and --threads 1..64")
    if not 0 <= args.pgbouncer <= 90:
        parser.error("--pgbouncer takes 0..90 server connections")
    if not 1 <= args.procs <= args.threads or not 0 < args.duration <= 600:
        parser.error("--procs must be 1..threads and --duration 0..600 s")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        with scratch_database() as db:
            if not args.pgbouncer:
                return _run(args, db.dsn, db.server)
            with pgbouncer.in_front_of(db.dsn, args.pgbouncer) as through:
                where = f"PgBouncer (transaction mode, {args.pgbouncer} server connections)"
                return _run(args, through, f"{db.server} through {where}")
    except KeyboardInterrupt:
        print("bench: interrupted; scratch database dropped", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace, dsn: str, where: str) -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"PayTrace ledger benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {cores} cores")
    print(f"database: {where}; {server_summary(dsn)}")
    users, took = set_up_users(dsn, args.users)
    print(f"set-up: {len(users)} users through register_user and cash_in: {took}")
    if args.trace:
        traced = OneConnection(dsn)
        make = transfers(users, "spread")(traced, random.Random(7), "trace")  # type: ignore[arg-type]
        for line in trace(traced, make, args.trace).lines():
            print(line)
        traced.close()
    campaign_id = open_campaign(dsn, users[0][0]) if "campaign" in args.phases else 0
    if "merchant" in args.phases:
        open_merchant(dsn)
    floors.create_table(dsn, args.users)
    layout = "threads in 1 process" if args.procs == 1 else f"threads over {args.procs} processes"
    print(
        f"{args.threads} {layout}; {args.warmup:.0f} s warm-up + {args.duration:.0f} s per phase; "
        "each phase after its floors"
    )
    rows, states, failed = [], [], False
    for phase in args.phases:
        hot = phase != "spread"  # a campaign's escrow is a hot account: the same floor
        common = {
            "threads": args.threads,
            "procs": args.procs,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
        }
        floor = run_phase(f"floor {phase}", floors.update_one(args.users, hot), dsn, **common)
        pgbench = None if args.no_pgbench else floors.pgbench(dsn, args.users, hot, args)
        meter, waits = floors.CpuMeter(dsn), floors.WaitSampler(dsn)

        def watch(window, meter=meter, waits=waits) -> None:
            meter.watch(window)
            waits.watch(window)

        if phase == "campaign":
            work = contributions(users, campaign_id)
        elif phase == "merchant":
            work = till_payments(users)
        else:
            work = transfers(users, phase)
        with hot_wallet_locked_last(dsn, users[0][1], phase == "hot-last"):
            result = run_phase(phase, work, dsn, on_window=watch, **common)
        rows.append((result, floor, pgbench, meter.read(result.client_cpu_s)))
        states.append((phase, waits.read()))
        failed |= bool(result.errors or floor.errors)
    print(floors.table(rows, TARGETS))
    for (result, floor, _, cpu), (_, seen) in zip(rows, states, strict=True):
        _explain(result, floor, cpu, seen)
    return _verify(dsn, rows, args) or int(failed)


def _explain(result: PhaseResult, floor: PhaseResult, cpu: dict, seen: list) -> None:
    """Refusals, errors, CPU per transfer and what PostgreSQL's backends were doing."""
    refused = ", ".join(f"{k} {v}" for k, v in sorted(result.refusals.items())) or "none"
    print(f"{result.name}: refusals: {refused}; errors: {dict(result.errors) or 'none'}")
    for sample in result.error_samples + floor.error_samples:
        print(f"  error: {sample}")
    if result.done and cpu:
        ours, postgres = (cpu[k] * 10 / result.per_s for k in ("client", "postgres"))
        print(f"  CPU per transfer: ours {ours:.2f} ms, PostgreSQL {postgres:.2f} ms")
    doing = ", ".join(f"{what} {n:.1f}" for what, n in seen if n >= 0.05)
    print(f"  PostgreSQL backends by state (average number): {doing}")


def _verify(dsn: str, rows: list[tuple[PhaseResult, ...]], args: argparse.Namespace) -> int:
    check = check_ledger(dsn)
    # Transfers counted done, plus the traced ones and their warm-up, plus those
    # that finished outside the measured windows (not counted): at least as many.
    counted = sum(result.done for result, *_ in rows) + args.trace + min(20, args.trace)
    ok = all(check[k] == 0 for k in list(check)[:5]) and check["movements in journal"] >= counted
    figures = ", ".join(f"{k} {v}" for k, v in check.items())
    print(f"ledger check: {figures} (at least {counted} expected): {'OK' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
