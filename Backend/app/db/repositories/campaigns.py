"""Campaigns: their rows, with what they raised read from their escrow accounts.

A campaign's current amount is its escrow's balance, plus what was paid out to the
organiser once it closed: the ledger's numbers, never a counter kept beside them. Its
escrow is up to eight accounts (campaign_escrows, migration 0059: a contributor always
pays the same one, so that contributions do not queue on one row); its balance is
their sum.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import psycopg2
import psycopg2.errors
import psycopg2.extensions

from app.domain.records.harambee import CampaignFilter, CampaignRow


class CampaignCodeTaken(Exception):
    """The random campaign code is in use; draw another."""


class CampaignKeyTaken(Exception):
    """A concurrent call started a campaign with this creation key."""


@dataclass(frozen=True, slots=True)
class CampaignHead:
    """What a movement needs to know about its campaign before it takes the locks:
    nothing here changes while money moves (a title edit shows in the next SMS)."""

    id: int
    code: str
    title: str
    account_id: int
    organiser_id: int
    organiser_phone: str
    organiser_language: str


_COLUMNS = """c.id, c.code, c.title, c.description, c.target_amount,
       a.balance + coalesce(p.amount, 0), c.status, a.balance, c.organiser_id, u.full_name,
       c.end_date, c.created_at, c.updated_at, c.ended_at, c.account_id, c.payout_id"""
# The escrow's balance: every escrow account of the campaign (campaign_escrows).
_ESCROW = """JOIN LATERAL (
        SELECT coalesce(sum(ea.balance), 0)::bigint AS balance
        FROM campaign_escrows e JOIN ledger_accounts ea ON ea.id = e.account_id
        WHERE e.campaign_id = c.id) a ON true"""
_FROM = f"""FROM campaigns c
    {_ESCROW}
    JOIN users u ON u.id = c.organiser_id
    LEFT JOIN journal_transactions p ON p.id = c.payout_id"""
# The status users see, in SQL (app.domain.harambee.campaign_status in Python).
SHOWN_STATUS = (
    "CASE WHEN c.status = 'active' AND a.balance >= c.target_amount THEN 'funded' ELSE c.status END"
)

# The campaign, its escrow's shard 0 (campaigns.account_id) and shards 1 to 7, each an
# account of its own, in one statement.
_CREATE_SQL = """
    WITH account AS (
        INSERT INTO ledger_accounts (kind, code)
        VALUES ('campaign', 'campaign:' || %(code)s)
        RETURNING id
    ), campaign AS (
        INSERT INTO campaigns (code, title, description, target_amount, organiser_id,
                               account_id, end_date, creation_key, request_hash, created_at,
                               updated_at)
        SELECT %(code)s, %(title)s, %(description)s, %(target)s, %(organiser)s, account.id,
               %(end_date)s, %(key)s, %(hash)s, %(now)s, %(now)s
        FROM account
        RETURNING id, account_id
    ), shards AS (
        INSERT INTO ledger_accounts (kind, code)
        SELECT 'campaign', 'campaign:' || %(code)s || ':' || n FROM generate_series(1, 7) n
        RETURNING id, code
    ), escrows AS (
        INSERT INTO campaign_escrows (campaign_id, shard, account_id)
        SELECT campaign.id, 0, campaign.account_id FROM campaign
        UNION ALL
        SELECT campaign.id, split_part(shards.code, ':', 3)::smallint, shards.id
        FROM campaign, shards
    )
    SELECT id FROM campaign
"""


class CampaignRepository:
    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn

    def create(
        self,
        *,
        code: str,
        title: str,
        description: str,
        target_amount: int,
        organiser_id: int,
        end_date: date | None,
        creation_key: str,
        request_hash: str,
        now: datetime,
    ) -> int:
        """The campaign and its escrow account, in one statement; returns its id.

        Raises CampaignCodeTaken or CampaignKeyTaken; either leaves the database
        transaction aborted, so the caller must roll back.
        """
        params = {
            "code": code,
            "title": title,
            "description": description,
            "target": target_amount,
            "organiser": organiser_id,
            "end_date": end_date,
            "key": creation_key,
            "hash": request_hash,
            "now": now,
        }
        try:
            with self._conn.cursor() as cur:
                cur.execute(_CREATE_SQL, params)
                return cur.fetchone()[0]
        except psycopg2.errors.UniqueViolation as exc:
            if exc.diag.constraint_name == "campaigns_creation_key_key":
                raise CampaignKeyTaken from exc
            raise CampaignCodeTaken from exc

    def snapshot(self) -> None:
        """Every later read of this transaction sees one moment (first statement only)."""
        with self._conn.cursor() as cur:
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")

    def by_creation_key(self, key: str) -> tuple[CampaignRow, str] | None:
        """The campaign a creation key started, with its request hash."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"SELECT {_COLUMNS}, c.request_hash {_FROM} WHERE c.creation_key = %(key)s",
                {"key": key},
            )
            row = cur.fetchone()
        return (CampaignRow(*row[:-1]), row[-1]) if row else None

    def get(self, campaign_id: int) -> CampaignRow | None:
        with self._conn.cursor() as cur:
            cur.execute(f"SELECT {_COLUMNS} {_FROM} WHERE c.id = %(id)s", {"id": campaign_id})
            row = cur.fetchone()
        return CampaignRow(*row) if row else None

    def head(self, campaign_id: int) -> CampaignHead | None:
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT c.id, c.code, c.title, c.account_id, c.organiser_id, u.phone, u.language
                FROM campaigns c JOIN users u ON u.id = c.organiser_id
                WHERE c.id = %(id)s
                """,
                {"id": campaign_id},
            )
            row = cur.fetchone()
        return CampaignHead(*row) if row else None

    def list(self, where: CampaignFilter, limit: int) -> list[CampaignRow]:
        """Campaigns matching `where`, newest first."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                SELECT {_COLUMNS} {_FROM}
                WHERE (%(status)s::text IS NULL OR {SHOWN_STATUS} = %(status)s::text)
                  AND (%(organiser)s::bigint IS NULL OR c.organiser_id = %(organiser)s::bigint)
                  AND (%(search)s::text IS NULL
                       OR strpos(lower(c.title), lower(%(search)s::text)) > 0)
                  AND (%(code)s::text IS NULL OR c.code = %(code)s::text)
                  AND (%(before)s::bigint IS NULL OR c.id < %(before)s::bigint)
                  AND (%(stored)s::text IS NULL OR c.status = %(stored)s::text)
                  AND (%(ends_from)s::date IS NULL OR c.end_date IS NULL
                       OR c.end_date >= %(ends_from)s::date)
                ORDER BY c.id DESC
                LIMIT %(limit)s
                """,
                {
                    "status": where.status,
                    "organiser": where.organiser_id,
                    "search": where.search,
                    "code": where.code,
                    "before": where.before_id,
                    "stored": where.stored_status,
                    "ends_from": where.ends_from,
                    "limit": limit,
                },
            )
            return [CampaignRow(*row) for row in cur.fetchall()]

    def count_active(self, organiser_id: int) -> int:
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM campaigns WHERE organiser_id = %(id)s AND status = 'active'",
                {"id": organiser_id},
            )
            return cur.fetchone()[0]

    def update(self, campaign_id: int, changes: dict[str, object], now: datetime) -> bool:
        """Apply changes (title, description, target_amount, end_date) to an active
        campaign; False when it is not active (any more)."""
        allowed = ("title", "description", "target_amount", "end_date")
        columns = [name for name in allowed if name in changes]
        assignments = ", ".join(f"{name} = %({name})s" for name in columns)
        with self._conn.cursor() as cur:
            cur.execute(
                f"UPDATE campaigns SET {assignments}, updated_at = %(now)s"
                " WHERE id = %(id)s AND status = 'active'",
                {**{name: changes[name] for name in columns}, "now": now, "id": campaign_id},
            )
            return cur.rowcount == 1

    def stored_status(self, campaign_id: int) -> str | None:
        """The stored status, read afresh (call it after taking the escrow's lock)."""
        with self._conn.cursor() as cur:
            cur.execute("SELECT status FROM campaigns WHERE id = %(id)s", {"id": campaign_id})
            row = cur.fetchone()
        return row[0] if row else None

    def end(self, campaign_id: int, *, status: str, payout_id: int | None, now: datetime) -> None:
        """Mark an active campaign closed (with its payout) or cancelled."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE campaigns
                SET status = %(status)s, payout_id = %(payout)s, ended_at = %(now)s,
                    updated_at = %(now)s
                WHERE id = %(id)s AND status = 'active'
                """,
                {"status": status, "payout": payout_id, "now": now, "id": campaign_id},
            )
            if cur.rowcount != 1:
                raise RuntimeError(f"campaign {campaign_id} was not active")

    def escrow_accounts(self, campaign_id: int) -> list[int]:
        """The campaign's escrow accounts (shard 0 first), for a lock on all of them."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT account_id FROM campaign_escrows WHERE campaign_id = %(id)s ORDER BY shard",
                {"id": campaign_id},
            )
            return [row[0] for row in cur.fetchall()]

    def untold_milestones(
        self, milestones: tuple[int, ...], limit: int
    ) -> list[tuple[CampaignHead, int, int, int]]:
        """Active campaigns whose escrow reached a milestone (percent of the target)
        with no SMS for its highest one yet: (head, percent, escrow, target), in id
        order. The SMS's dedupe key is the one milestone_sms writes."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                SELECT c.id, c.code, c.title, c.account_id, c.organiser_id, u.phone,
                       u.language, m.percent, a.balance, c.target_amount
                FROM campaigns c
                JOIN users u ON u.id = c.organiser_id
                {_ESCROW}
                CROSS JOIN LATERAL (
                    SELECT max(p) AS percent FROM unnest(%(milestones)s::int[]) p
                    WHERE p::bigint * c.target_amount <= a.balance * 100) m
                WHERE c.status = 'active' AND m.percent IS NOT NULL
                  AND NOT EXISTS (
                      SELECT 1 FROM outbox o
                      WHERE o.dedupe_key = 'harambee:' || c.id || ':milestone:'
                                           || m.percent || ':' || c.target_amount)
                ORDER BY c.id
                LIMIT %(limit)s
                """,
                {"milestones": list(milestones), "limit": limit},
            )
            return [(CampaignHead(*row[:7]), row[7], row[8], row[9]) for row in cur.fetchall()]

    def cancelled_holding_money(self, limit: int) -> list[int]:
        """Cancelled campaigns whose escrow still holds money: refunds to finish."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                SELECT c.id FROM campaigns c {_ESCROW}
                WHERE c.status = 'cancelled' AND a.balance > 0
                ORDER BY c.id LIMIT %(limit)s
                """,
                {"limit": limit},
            )
            return [row[0] for row in cur.fetchall()]
