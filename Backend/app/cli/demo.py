"""`make demo`: fill a development database with a month of marked demo history.

    python -m app.cli.demo [--users 300] [--days 30] [--seed 17]

Uses DATABASE_URL, or `make run`'s embedded PostgreSQL under the data directory when it
is unset (started here if `make run` is not running), and applies pending migrations
first, so it works on a fresh laptop. Refuses to run in production (exit 2). Stop
`make run` first: the demo plays the worker for its own M-Pesa requests, and a running
worker would race it for them. Start `make run` afterwards: its worker sends the demo's
SMS to the AT sandbox and settles its movements on the local Stellar network.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from app.config import Settings
from app.db.migrate import apply_migrations
from app.db.pool import Database
from app.db.unit_of_work import UnitOfWork
from app.errors import PayTraceError
from app.infra.embedded import EmbeddedServers, start_postgres
from app.services import demo
from app.services.demo.mpesa import DemoClash
from app.services.demo.plan import DEMO_PHONE_PREFIX

NAME = "demo"


def _arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m app.cli.demo",
        description="Fill a development database with deterministic, marked demo history.",
    )
    parser.add_argument("--users", type=int, default=300, help="people (3 to 10,000)")
    parser.add_argument(
        "--days", type=int, default=30, help="Nairobi days of history, today the last (1 to 366)"
    )
    parser.add_argument("--seed", type=int, default=17, help="another seed, another story")
    return parser.parse_args(list(argv))


def main(argv: Sequence[str] = ()) -> int:
    args = _arguments(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        # Production is the default: a demo run without ENVIRONMENT=development ends here.
        print(
            f"{NAME}: settings refused: {exc.errors()[0]['msg']} (the demo runs in development"
            " only: make -C Backend demo sets ENVIRONMENT=development)",
            file=sys.stderr,
        )
        return 2
    if settings.environment == "production":
        print(
            f"{NAME}: refused: the demo writes made-up history, never in production "
            "(run it as make -C Backend demo, which sets ENVIRONMENT=development)",
            file=sys.stderr,
        )
        return 2
    servers = EmbeddedServers()
    try:
        url = settings.database_url or start_postgres(settings.data_dir, servers)
        apply_migrations(url)
        database = Database(url, max_connections=2)
        try:
            filled = demo.fill(
                lambda: UnitOfWork(database),
                settings.model_copy(update={"database_url": url}),
                users=args.users,
                days=args.days,
                seed=args.seed,
                progress=lambda done, total: print(f"{NAME}: {done}/{total} events", flush=True),
            )
        finally:
            database.close()
    except (ValueError, DemoClash, PayTraceError) as exc:
        print(f"{NAME}: {exc}", file=sys.stderr)
        return 1
    finally:
        servers.stop()
    for kind, count in sorted(filled.done.items()):
        print(f"{NAME}: {count:6d}  {kind}")
    for kind, count in sorted(filled.refused.items()):
        print(f"{NAME}: {count:6d}  refused, {kind}")
    print(f"{NAME}: demo people are {DEMO_PHONE_PREFIX}0000 onwards, PIN {demo.DEMO_PIN}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
