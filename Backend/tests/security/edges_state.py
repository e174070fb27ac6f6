"""A fingerprint of everything a request could change: every table's rows (the ledger,
users, callbacks, outbox...) and the run's Redis keys (USSD sessions, rate limits).
Two equal fingerprints mean the requests between them changed nothing."""

from __future__ import annotations

import redis as redis_sync

from app.config import Settings
from app.db.pool import Database

# Rows every request is meant to leave: the admin audit trail records each admin
# request, reads and refusals included (tests/security/test_audit_trail.py holds it to
# that), so it is no sign of a change here.
EXPECTED_TRACES = ("admin_audit",)


def table_fingerprints(database: Database) -> dict[str, str]:
    """Each public table's name -> an md5 over its rows (in a stable order)."""
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
        tables = [row[0] for row in cur.fetchall() if row[0] not in EXPECTED_TRACES]
        fingerprints = {}
        for table in tables:
            cur.execute(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), ''))"
                f' FROM "{table}" t'
            )
            count, digest = cur.fetchone()
            fingerprints[table] = f"{count}:{digest}"
        conn.commit()
    return fingerprints


def redis_keys(settings: Settings) -> set[bytes]:
    client = redis_sync.Redis.from_url(settings.redis_url)
    try:
        return set(client.scan_iter(match=f"{settings.redis_prefix}*", count=1000))
    finally:
        client.close()


def snapshot(database: Database, settings: Settings) -> tuple[dict[str, str], set[bytes]]:
    return table_fingerprints(database), redis_keys(settings)
