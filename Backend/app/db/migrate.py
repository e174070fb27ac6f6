"""A small, transactional migration runner.

Migrations are `db/migrations/NNNN_name.sql`, applied in order, each in its own
transaction, recorded in `schema_migrations`. An advisory lock lets the API and
the worker start together without applying anything twice. A test proves that
applying all of them yields exactly `schema.sql`.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

import psycopg2

from app.db import advisory

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_LOCK_ID = advisory.MIGRATIONS


def migration_files() -> list[Path]:
    files = sorted(p for p in MIGRATIONS_DIR.iterdir() if _NAME.match(p.name))
    versions = [p.name[:4] for p in files]
    if len(versions) != len(set(versions)):
        raise RuntimeError("two migrations share a version number")
    return files


def apply_migrations(dsn: str) -> list[str]:
    """Apply every pending migration; returns the names applied.

    Each migration is one transaction that first takes the migrations' transaction-level
    advisory lock, then reads whether it was applied: two processes starting at once
    apply each file once, and the lock holds behind PgBouncer in transaction mode.
    """
    applied_now: list[str] = []
    conn = psycopg2.connect(dsn, application_name="paytrace-migrate")
    try:
        for path in migration_files():
            sql = path.read_text()
            checksum = hashlib.sha256(sql.encode()).hexdigest()
            version = path.name[:4]
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%(id)s)", {"id": _LOCK_ID})
                cur.execute(_BOOKKEEPING)
                cur.execute(
                    "SELECT checksum FROM schema_migrations WHERE version = %(v)s",
                    {"v": version},
                )
                found = cur.fetchone()
                if found is not None:
                    conn.rollback()
                    if found[0] != checksum:
                        raise RuntimeError(f"migration {path.name} changed after it was applied")
                    continue
                cur.execute(sql)
                cur.execute(
                    "INSERT INTO schema_migrations (version, name, checksum)"
                    " VALUES (%(v)s, %(n)s, %(c)s)",
                    {"v": version, "n": path.name, "c": checksum},
                )
            conn.commit()
            applied_now.append(path.name)
    finally:
        conn.close()
    return applied_now


_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    checksum   TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""


def migrate_at_start(dsn: str, log: logging.Logger) -> bool:
    """Apply pending migrations when a process starts; False (logged) if it could not.

    A process whose database is down still starts: the API must answer USSD with
    an apology, and readiness reports the database until it is back.
    """
    try:
        applied = apply_migrations(dsn)
    except psycopg2.OperationalError as exc:
        log.error("migrations not applied: database unavailable", extra={"error": str(exc)})
        return False
    if applied:
        log.info("migrations applied", extra={"migrations": applied})
    return True
