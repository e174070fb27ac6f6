"""Worker leases (`worker_leases`, app/db/leases.py): taken, renewed and given back, each
in one statement."""

from __future__ import annotations

import psycopg2.extensions


class LeaseRepository:
    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn

    def take_or_renew(self, name: str, holder: str, ttl_s: float) -> bool:
        """Take the lease when it is free or lapsed, or renew it when holder holds it;
        True when holder holds it now."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                INSERT INTO worker_leases AS l (name, holder, acquired_at, renewed_at, expires_at)
                VALUES (%(name)s, %(holder)s, now(), now(),
                        now() + make_interval(secs => %(ttl)s))
                ON CONFLICT (name) DO UPDATE
                   SET holder = EXCLUDED.holder,
                       acquired_at = CASE WHEN l.holder = EXCLUDED.holder
                                          THEN l.acquired_at ELSE now() END,
                       renewed_at = now(),
                       expires_at = EXCLUDED.expires_at
                 WHERE l.holder = EXCLUDED.holder OR l.expires_at < now()
                RETURNING holder
                """,
                {"name": name, "holder": holder, "ttl": ttl_s},
            )
            return cur.fetchone() is not None

    def release(self, name: str, holder: str) -> None:
        """Give the lease up, if holder holds it."""
        with self._conn.cursor() as cur:
            cur.execute(
                "DELETE FROM worker_leases WHERE name = %(name)s AND holder = %(holder)s",
                {"name": name, "holder": holder},
            )
