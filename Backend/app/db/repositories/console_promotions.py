"""What the console's promotions page reads: the promotions account's movements by
Nairobi day and kind, every cashback rule with its tiers, every referral programme."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import psycopg2.extensions

from app.domain.promotions import PROMOTIONS, CashbackTier, ReferralProgram

# The promotions account's legs, each sorted into what it was: cashback paid (journal
# 'cashback'), cashback given back (a bill's reversal returns it; an operator's plain
# reversal of a 'cashback' movement too) and referral bonuses paid.
_LEGS = """
    SELECT (t.created_at AT TIME ZONE 'UTC' + %(offset)s)::date AS day,
           CASE WHEN t.kind = 'cashback' THEN -l.amount ELSE 0 END AS paid,
           CASE WHEN t.kind = 'bill_reversal' OR (t.kind = 'reversal' AND r.kind = 'cashback')
                THEN l.amount ELSE 0 END AS reversed,
           CASE WHEN t.kind = 'referral_bonus' THEN -l.amount ELSE 0 END AS referral
    FROM journal_legs l
    JOIN journal_transactions t ON t.id = l.transaction_id
    LEFT JOIN journal_transactions r ON r.id = t.reverses_id
    WHERE l.account_id = (SELECT id FROM ledger_accounts WHERE code = %(account)s)
      AND t.created_at >= %(since)s
"""


@dataclass(frozen=True, slots=True)
class PromotionDay:
    day: date
    cashback_paid: int  # cents
    cashback_reversed: int
    referral_paid: int


@dataclass(frozen=True, slots=True)
class RuleRow:
    id: int
    name: str
    biller_code: str | None
    biller_name: str | None
    category: str | None
    monthly_cap: int
    valid_from: date
    valid_until: date | None
    created_at: datetime
    tiers: tuple[CashbackTier, ...]


class ConsolePromotionsRepository:
    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn

    def daily(
        self, first: date, last: date, offset: timedelta, since: datetime
    ) -> list[PromotionDay]:
        """Every day from first to last (days at UTC+offset, the first starting at since),
        zero-filled, oldest first."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                WITH legs AS ({_LEGS})
                SELECT d.day::date, coalesce(sum(legs.paid), 0), coalesce(sum(legs.reversed), 0),
                       coalesce(sum(legs.referral), 0)
                FROM generate_series(%(first)s::date, %(last)s::date, interval '1 day')
                     AS d(day)
                LEFT JOIN legs ON legs.day = d.day::date
                GROUP BY d.day ORDER BY d.day
                """,
                {
                    "first": first,
                    "last": last,
                    "offset": offset,
                    "since": since,
                    "account": PROMOTIONS,
                },
            )
            return [PromotionDay(row[0], int(row[1]), int(row[2]), int(row[3])) for row in cur]

    def rules(self) -> list[RuleRow]:
        """Every cashback rule, newest first, with its tiers (lowest first)."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT r.id, r.name, b.code, b.name, r.category, r.monthly_cap, r.valid_from,
                       r.valid_until, r.created_at, t.min_amount, t.max_amount, t.rate_bp
                FROM cashback_rules r
                LEFT JOIN billers b ON b.id = r.biller_id
                LEFT JOIN cashback_tiers t ON t.rule_id = r.id
                ORDER BY r.id DESC, t.min_amount
                """
            )
            rows = cur.fetchall()
        heads: dict[int, tuple] = {}
        tiers: dict[int, list[CashbackTier]] = {}
        for row in rows:
            heads.setdefault(row[0], row[:9])
            found = tiers.setdefault(row[0], [])
            if row[9] is not None:
                found.append(CashbackTier(int(row[9]), int(row[10]), int(row[11])))
        return [RuleRow(*head, tiers=tuple(tiers[i])) for i, head in heads.items()]

    def rule_dates(self, rule_id: int) -> tuple[date, date | None] | None:
        """A rule's valid_from and valid_until, its row locked; None: no such rule."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT valid_from, valid_until FROM cashback_rules WHERE id = %(id)s FOR UPDATE",
                {"id": rule_id},
            )
            row = cur.fetchone()
        return (row[0], row[1]) if row else None

    def end_rule(self, rule_id: int, last_day: date) -> None:
        """The rule's last valid day: the one change a rule takes (its tiers, cap and
        scope never change; a new rule replaces it)."""
        with self._conn.cursor() as cur:
            cur.execute(
                "UPDATE cashback_rules SET valid_until = %(day)s WHERE id = %(id)s",
                {"id": rule_id, "day": last_day},
            )

    def programs(self) -> list[ReferralProgram]:
        """Every referral programme, newest first."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT id, bonus, budget, spent, valid_from, valid_until
                FROM referral_programs ORDER BY id DESC
                """
            )
            return [ReferralProgram(*row) for row in cur.fetchall()]
