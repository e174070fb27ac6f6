"""Contributions: what the journal does not say about money paid into a campaign
(the pledge it pays, anonymity, a message), and the reads money movements make
after taking their locks. Amounts, references and times are the journal's.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

import psycopg2.errors
import psycopg2.extensions

from app.db.repositories.campaigns import CampaignHead
from app.db.repositories.ledger import Party, posting_errors
from app.db.repositories.pledges import PAID_LATERAL, STATUS_SQL
from app.domain.accounts import ISSUER_KINDS
from app.domain.records.harambee import ContributionRow


@dataclass(frozen=True, slots=True)
class PledgeState:
    user_id: int
    amount: int
    paid: int
    status: str


@dataclass(frozen=True, slots=True)
class ContributionState:
    """Read after the escrow and the wallet are locked, in a new statement: exact."""

    earlier_id: int | None  # the transaction already holding the idempotency key
    day_total: int  # the wallet's outflows today, cents
    rolling_total: int  # ... and over the 30 days ending today
    status: str  # the campaign's stored status
    end_date: date | None
    target_amount: int
    pledge: PledgeState | None  # the pledge being paid, if any (and if it is this campaign's)


@dataclass(frozen=True, slots=True)
class SlottedMessage:
    """An outbox message whose text (and dedupe key) wait for values known only under
    the lock: `parts` alternate literal text and a value's name (ledger_fill_slots,
    migration 0045, lists the names)."""

    kind: str
    payload: dict  # without "message"
    dedupe_key: tuple[str, ...]  # parts, as the text's
    parts: tuple[str, ...]
    percent: int | None = None  # a milestone's: sent when the escrow crosses it

    def as_json(self) -> dict:
        return {
            "kind": self.kind,
            "payload": self.payload,
            "dedupe_key": list(self.dedupe_key),
            "parts": list(self.parts),
            "percent": self.percent,
        }


@dataclass(frozen=True, slots=True)
class ContributionOutcome:
    """What `ledger_contribute` answered (migration 0045 lists the outcomes)."""

    outcome: str
    transaction_id: int | None
    contribution_id: int | None
    amount: int | None  # what was (or would have been) paid
    balance: int | None  # the wallet's: after when posted, before on a refusal
    raised: int | None  # the escrow's after
    day_total: int | None  # the wallet's outflows today and over 30 days (limits)
    rolling_total: int | None
    detail: str | None  # the campaign's status (not_open) or the pledge's (pledge_closed)
    remaining: int | None  # what remains to pay on the pledge (exceeds_pledge)


_CONTRIBUTE_SQL = """
    SELECT * FROM ledger_contribute(
        %(user)s, %(campaign)s, %(escrow)s, %(amount)s, %(pledge)s, %(key)s, %(hash)s,
        %(reference)s, %(channel)s, %(note)s, %(created_at)s, %(today)s, %(anonymous)s,
        %(message)s, %(issuer_kinds)s::text[], %(receipt)s::jsonb, %(milestones)s::jsonb)
"""


@dataclass(frozen=True, slots=True)
class DailyTotal:
    day: date  # Nairobi day
    amount: int  # cents
    contributions: int


@dataclass(frozen=True, slots=True)
class ContributionTotals:
    amount: int  # cents contributed, refunds not deducted
    contributions: int
    contributors: int


_STATE_SQL = f"""
    SELECT (SELECT id FROM journal_transactions WHERE idempotency_key = %(key)s),
           o.day_total, o.rolling_total, c.status, c.end_date, c.target_amount,
           pl.user_id, pl.amount, pl.paid, pl.status
    FROM campaigns c
    CROSS JOIN LATERAL (
        SELECT coalesce(sum(amount) FILTER (WHERE day = %(today)s), 0) AS day_total,
               coalesce(sum(amount), 0) AS rolling_total
        FROM account_outflows
        WHERE account_id = %(wallet)s AND day > %(today)s - 30
    ) o
    LEFT JOIN LATERAL (
        SELECT p.user_id, p.amount, paid.total AS paid, {STATUS_SQL} AS status
        FROM pledges p
        {PAID_LATERAL}
        WHERE p.id = %(pledge)s AND p.campaign_id = c.id
    ) pl ON true
    WHERE c.id = %(campaign)s
"""

_ROW_SQL = """
    SELECT cc.id, t.id, t.reference, cc.campaign_id, cc.user_id, u.full_name, t.amount,
           cc.pledge_id, cc.is_anonymous, cc.message, t.created_at
    FROM campaign_contributions cc
    JOIN journal_transactions t ON t.id = cc.transaction_id
    JOIN users u ON u.id = cc.user_id
"""

# A journal time's Nairobi day (UTC+3 all year, no daylight saving).
_NAIROBI_DAY = "((t.created_at AT TIME ZONE 'UTC') + interval '3 hours')::date"


class ContributionRepository:
    def __init__(
        self,
        conn: psycopg2.extensions.connection,
        posted: Callable[[str], None] = lambda kind: None,
    ) -> None:
        self._conn = conn
        self._posted = posted  # counts a movement posted here (LedgerRepository.posted)

    def parties(self, campaign_id: int, user_id: int) -> tuple[CampaignHead | None, Party | None]:
        """The campaign's head and the contributor, read without a lock (the SMS are
        written from them): one round trip before a contribution. A function
        (migration 0056), so its plan is kept for the session."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT * FROM ledger_contribution_parties(%(campaign)s, %(user)s)",
                {"campaign": campaign_id, "user": user_id},
            )
            row = cur.fetchone()
        head = CampaignHead(*row[0:7]) if row[0] is not None else None
        return head, (Party(*row[7:11]) if row[7] is not None else None)

    def post(
        self,
        *,
        user_id: int,
        head: CampaignHead,
        amount: int | None,
        pledge_id: int | None,
        idempotency_key: str,
        request_hash: str,
        reference: str,
        channel: str,
        created_at: datetime,
        today: date,
        is_anonymous: bool,
        message: str | None,
        receipt: SlottedMessage,
        milestones: tuple[SlottedMessage, ...],
    ) -> ContributionOutcome:
        """Check and post a contribution in one call of `ledger_contribute` (migrations
        0045, 0054): the key, the pledge, the limits and the balance checked under the
        wallet's lock, the campaign's state under the escrow's too, then the journal
        transaction, its legs, the outflow, the settlement row, the SMS and the
        contribution's row. Must run as a statement of its own (autocommit): a campaign
        ended between the function's two looks fails the statement, answered here as
        'not_open'.

        Raises KeyTaken, ReferenceTaken or Overdraft (as LedgerRepository.post).
        """
        params = {
            "user": user_id,
            "campaign": head.id,
            "escrow": head.account_id,
            "amount": amount,
            "pledge": pledge_id,
            "key": idempotency_key,
            "hash": request_hash,
            "reference": reference,
            "channel": channel,
            "note": head.title,
            "created_at": created_at,
            "today": today,
            "anonymous": is_anonymous,
            "message": message,
            "issuer_kinds": list(ISSUER_KINDS),
            "receipt": json.dumps(receipt.as_json()),
            "milestones": json.dumps([m.as_json() for m in milestones]),
        }
        try:
            with posting_errors(), self._conn.cursor() as cur:
                cur.execute(_CONTRIBUTE_SQL, params)
                outcome = ContributionOutcome(*cur.fetchone())
        except psycopg2.errors.ObjectNotInPrerequisiteState as exc:
            # The campaign ended between the function's first look and the escrow's
            # lock (migration 0054): the statement failed, nothing was written.
            return ContributionOutcome(
                outcome="not_open",
                transaction_id=None,
                contribution_id=None,
                amount=None,
                balance=None,
                raised=None,
                day_total=None,
                rolling_total=None,
                detail=exc.diag.message_detail or "closed",
                remaining=None,
            )
        if outcome.outcome == "posted":
            self._posted("contribution")
        return outcome

    def state_after_lock(
        self,
        *,
        key: str,
        campaign_id: int,
        wallet_account_id: int,
        today: date,
        pledge_id: int | None,
    ) -> ContributionState | None:
        """Everything a contribution checks once its accounts are locked, in one round
        trip; None when the campaign does not exist."""
        with self._conn.cursor() as cur:
            cur.execute(
                _STATE_SQL,
                {
                    "key": key,
                    "campaign": campaign_id,
                    "wallet": wallet_account_id,
                    "today": today,
                    "pledge": pledge_id,
                },
            )
            row = cur.fetchone()
        if row is None:
            return None
        pledge = PledgeState(row[6], row[7], int(row[8]), row[9]) if row[6] is not None else None
        return ContributionState(row[0], int(row[1]), int(row[2]), row[3], row[4], row[5], pledge)

    def record(
        self,
        *,
        transaction_id: int,
        campaign_id: int,
        user_id: int,
        pledge_id: int | None,
        is_anonymous: bool,
        message: str | None,
    ) -> int:
        with self._conn.cursor() as cur:
            cur.execute(
                """
                INSERT INTO campaign_contributions
                    (transaction_id, campaign_id, user_id, pledge_id, is_anonymous, message)
                VALUES (%(tx)s, %(campaign)s, %(user)s, %(pledge)s, %(anonymous)s, %(message)s)
                RETURNING id
                """,
                {
                    "tx": transaction_id,
                    "campaign": campaign_id,
                    "user": user_id,
                    "pledge": pledge_id,
                    "anonymous": is_anonymous,
                    "message": message,
                },
            )
            return cur.fetchone()[0]

    def get(self, contribution_id: int) -> ContributionRow | None:
        with self._conn.cursor() as cur:
            cur.execute(_ROW_SQL + " WHERE cc.id = %(id)s", {"id": contribution_id})
            row = cur.fetchone()
        return ContributionRow(*row) if row else None

    def by_transaction(self, transaction_id: int) -> ContributionRow | None:
        with self._conn.cursor() as cur:
            cur.execute(_ROW_SQL + " WHERE cc.transaction_id = %(id)s", {"id": transaction_id})
            row = cur.fetchone()
        return ContributionRow(*row) if row else None

    def of_campaign(
        self, campaign_id: int, *, before_id: int | None, limit: int
    ) -> list[ContributionRow]:
        """A campaign's contributions, newest first."""
        with self._conn.cursor() as cur:
            cur.execute(
                _ROW_SQL
                + """
                WHERE cc.campaign_id = %(campaign)s
                  AND (%(before)s::bigint IS NULL OR cc.id < %(before)s::bigint)
                ORDER BY cc.id DESC
                LIMIT %(limit)s
                """,
                {"campaign": campaign_id, "before": before_id, "limit": limit},
            )
            return [ContributionRow(*row) for row in cur.fetchall()]

    def contributed_by_account(self, campaign_id: int, user_id: int) -> list[tuple[int, int]]:
        """(escrow account, cents) a user's contributions to a campaign paid into, in
        account order (read it under the escrow accounts' locks)."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT l.account_id, sum(l.amount)::bigint
                FROM campaign_contributions cc
                JOIN journal_legs l ON l.transaction_id = cc.transaction_id
                JOIN campaign_escrows e
                  ON e.campaign_id = cc.campaign_id AND e.account_id = l.account_id
                WHERE cc.campaign_id = %(campaign)s AND cc.user_id = %(user)s
                GROUP BY l.account_id
                ORDER BY l.account_id
                """,
                {"campaign": campaign_id, "user": user_id},
            )
            return [(account, int(cents)) for account, cents in cur.fetchall()]

    def unrefunded(self, campaign_id: int, limit: int) -> list[int]:
        """Contributors of a campaign with no refund yet (by its key), in user order."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT DISTINCT cc.user_id
                FROM campaign_contributions cc
                WHERE cc.campaign_id = %(campaign)s
                  AND NOT EXISTS (
                      SELECT 1 FROM journal_transactions r
                      WHERE r.idempotency_key
                            = 'campaign_refund:' || %(campaign)s || ':' || cc.user_id)
                ORDER BY cc.user_id
                LIMIT %(limit)s
                """,
                {"campaign": campaign_id, "limit": limit},
            )
            return [row[0] for row in cur.fetchall()]

    def totals(self, campaign_id: int) -> ContributionTotals:
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT coalesce(sum(t.amount), 0), count(*), count(DISTINCT cc.user_id)
                FROM campaign_contributions cc
                JOIN journal_transactions t ON t.id = cc.transaction_id
                WHERE cc.campaign_id = %(campaign)s
                """,
                {"campaign": campaign_id},
            )
            amount, count, contributors = cur.fetchone()
        return ContributionTotals(int(amount), int(count), int(contributors))

    def daily(self, campaign_id: int, first: date, last: date) -> list[DailyTotal]:
        """Contributions per Nairobi day from first to last, every day listed."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                SELECT d.day::date, coalesce(sum(x.amount), 0), count(x.amount)
                FROM generate_series(%(first)s::date, %(last)s::date, interval '1 day') AS d (day)
                LEFT JOIN (
                    SELECT {_NAIROBI_DAY} AS day, t.amount
                    FROM campaign_contributions cc
                    JOIN journal_transactions t ON t.id = cc.transaction_id
                    WHERE cc.campaign_id = %(campaign)s
                      AND t.created_at >= %(first)s::date - interval '1 day'
                ) x ON x.day = d.day::date
                GROUP BY d.day
                ORDER BY d.day
                """,
                {"campaign": campaign_id, "first": first, "last": last},
            )
            return [DailyTotal(row[0], int(row[1]), int(row[2])) for row in cur.fetchall()]
