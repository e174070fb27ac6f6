"""Worker leases (`worker_leases`, app/db/leases.py): taken, renewed and given back, each
in one statement. Each acquisition numbers the lease anew (its generation, the fencing
token); a renewal and a release name the generation their holder took, so a holder whose
lease was taken meanwhile is refused even when its holder name is the same."""

from __future__ import annotations

import psycopg2.extensions


class LeaseRepository:
    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn

    def take(self, name: str, holder: str, ttl_s: float) -> int | None:
        """Take the lease when it is free, lapsed or released: its new generation (one
        more than the last), or None while another holds it."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                INSERT INTO worker_leases AS l
                    (name, holder, acquired_at, renewed_at, expires_at, generation)
                VALUES (%(name)s, %(holder)s, now(), now(),
                        now() + make_interval(secs => %(ttl)s), 1)
                ON CONFLICT (name) DO UPDATE
                   SET holder = EXCLUDED.holder,
                       generation = l.generation + 1,
                       acquired_at = now(),
                       renewed_at = now(),
                       expires_at = EXCLUDED.expires_at
                 WHERE l.expires_at < now()
                RETURNING generation
                """,
                {"name": name, "holder": holder, "ttl": ttl_s},
            )
            row = cur.fetchone()
        return int(row[0]) if row else None

    def renew(self, name: str, holder: str, generation: int, ttl_s: float) -> bool:
        """Extend the lease holder took under generation; False when it is no longer that
        acquisition (taken by another since, even if it lapsed again, or released)."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE worker_leases
                   SET renewed_at = now(), expires_at = now() + make_interval(secs => %(ttl)s)
                 WHERE name = %(name)s AND holder = %(holder)s
                   AND generation = %(generation)s AND expires_at > renewed_at
                RETURNING 1
                """,
                {"name": name, "holder": holder, "generation": generation, "ttl": ttl_s},
            )
            return cur.fetchone() is not None

    def release(self, name: str, holder: str, generation: int) -> bool:
        """Give up the lease holder took under generation: it lapses at once (the row,
        and so the count of generations, stays). False when it was no longer that one."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE worker_leases SET expires_at = renewed_at
                 WHERE name = %(name)s AND holder = %(holder)s
                   AND generation = %(generation)s AND expires_at > renewed_at
                RETURNING 1
                """,
                {"name": name, "holder": holder, "generation": generation},
            )
            return cur.fetchone() is not None
