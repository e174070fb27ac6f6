"""Cashback rules and awards, the referral programme and referrals (migration 0036)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import psycopg2.extensions

from app.domain.promotions import CashbackRule, CashbackTier, ReferralProgram


@dataclass(frozen=True, slots=True)
class Referral:
    invitee_phone: str
    referrer_user_id: int
    referred_user_id: int | None
    outcome: str | None


class PromotionRepository:
    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn

    # ---- cashback ---------------------------------------------------------------------

    def cashback_rules(self, *, biller_id: int, category: str) -> list[CashbackRule]:
        """Every rule for this biller or its category, with its tiers (the caller picks
        the one valid on its day: app.domain.promotions.rule_for)."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT r.id, r.biller_id, r.category, r.monthly_cap, r.valid_from,
                       r.valid_until, t.min_amount, t.max_amount, t.rate_bp
                FROM cashback_rules r LEFT JOIN cashback_tiers t ON t.rule_id = r.id
                WHERE r.biller_id = %(biller_id)s
                   OR (r.biller_id IS NULL AND r.category = %(category)s)
                ORDER BY r.id, t.min_amount
                """,
                {"biller_id": biller_id, "category": category},
            )
            rows = cur.fetchall()
        rules: dict[int, tuple] = {}
        tiers: dict[int, list[CashbackTier]] = {}
        for row in rows:
            rules.setdefault(row[0], row[:6])
            tiers.setdefault(row[0], [])
            if row[6] is not None:
                tiers[row[0]].append(CashbackTier(row[6], row[7], row[8]))
        return [CashbackRule(*head, tiers=tuple(tiers[i])) for i, head in rules.items()]

    def earned(self, *, user_id: int, rule_id: int, month: date) -> int:
        """What the user earned under the rule in the month (its first day): a reversed
        bill's cashback went back to the promotions account and no longer counts."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT coalesce(sum(a.amount), 0)
                FROM cashback_awards a JOIN bill_payments p ON p.id = a.bill_payment_id
                WHERE a.user_id = %(user_id)s AND a.rule_id = %(rule_id)s
                  AND a.month = %(month)s AND p.status <> 'reversed'
                """,
                {"user_id": user_id, "rule_id": rule_id, "month": month},
            )
            return int(cur.fetchone()[0])

    def add_award(
        self,
        *,
        bill_payment_id: int,
        rule_id: int,
        user_id: int,
        month: date,
        amount: int,
        transaction_id: int,
        created_at: datetime,
    ) -> None:
        with self._conn.cursor() as cur:
            cur.execute(
                """
                INSERT INTO cashback_awards (bill_payment_id, rule_id, user_id, month, amount,
                                             transaction_id, created_at)
                VALUES (%(bill)s, %(rule)s, %(user)s, %(month)s, %(amount)s, %(tx)s, %(at)s)
                """,
                {
                    "bill": bill_payment_id,
                    "rule": rule_id,
                    "user": user_id,
                    "month": month,
                    "amount": amount,
                    "tx": transaction_id,
                    "at": created_at,
                },
            )

    def award_transaction(self, bill_payment_id: int) -> tuple[int, int] | None:
        """The cashback a bill earned and its journal transaction, or None."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT amount, transaction_id FROM cashback_awards WHERE bill_payment_id = %(id)s",
                {"id": bill_payment_id},
            )
            row = cur.fetchone()
        return (int(row[0]), int(row[1])) if row else None

    def awarded_bill_status(self, transaction_id: int) -> str | None:
        """The state of the bill a cashback journal transaction was paid for, or None."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT p.status FROM cashback_awards a
                JOIN bill_payments p ON p.id = a.bill_payment_id
                WHERE a.transaction_id = %(tx)s
                """,
                {"tx": transaction_id},
            )
            row = cur.fetchone()
        return row[0] if row else None

    def award_of(self, bill_payment_id: int) -> int:
        """The cashback a bill earned (0: none)."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT amount FROM cashback_awards WHERE bill_payment_id = %(id)s",
                {"id": bill_payment_id},
            )
            row = cur.fetchone()
        return int(row[0]) if row else 0

    def add_rule(
        self,
        *,
        name: str,
        biller_id: int | None,
        category: str | None,
        monthly_cap: int,
        valid_from: date,
        valid_until: date | None,
        tiers: tuple[CashbackTier, ...],
    ) -> int:
        with self._conn.cursor() as cur:
            cur.execute(
                """
                INSERT INTO cashback_rules (name, biller_id, category, monthly_cap, valid_from,
                                            valid_until)
                VALUES (%(name)s, %(biller)s, %(category)s, %(cap)s, %(start)s, %(until)s)
                RETURNING id
                """,
                {
                    "name": name,
                    "biller": biller_id,
                    "category": category,
                    "cap": monthly_cap,
                    "start": valid_from,
                    "until": valid_until,
                },
            )
            rule_id = cur.fetchone()[0]
            for tier in tiers:
                cur.execute(
                    """
                    INSERT INTO cashback_tiers (rule_id, min_amount, max_amount, rate_bp)
                    VALUES (%(rule)s, %(low)s, %(high)s, %(rate)s)
                    """,
                    {
                        "rule": rule_id,
                        "low": tier.min_amount,
                        "high": tier.max_amount,
                        "rate": tier.rate_bp,
                    },
                )
        return rule_id

    # ---- referrals --------------------------------------------------------------------

    def refer(self, *, invitee_phone: str, referrer_user_id: int, at: datetime) -> None:
        """The first invitation of a number names its referrer; later ones change nothing."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                INSERT INTO referrals (invitee_phone, referrer_user_id, invited_at)
                VALUES (%(phone)s, %(referrer)s, %(at)s)
                ON CONFLICT (invitee_phone) DO NOTHING
                """,
                {"phone": invitee_phone, "referrer": referrer_user_id, "at": at},
            )

    def referral(self, invitee_phone: str, *, for_update: bool = False) -> Referral | None:
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT invitee_phone, referrer_user_id, referred_user_id, outcome
                FROM referrals WHERE invitee_phone = %(phone)s
                """
                + (" FOR UPDATE" if for_update else ""),
                {"phone": invitee_phone},
            )
            row = cur.fetchone()
        return Referral(*row) if row else None

    def program_on(self, day: date) -> ReferralProgram | None:
        """The newest referral programme valid on the day."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT id, bonus, budget, spent, valid_from, valid_until FROM referral_programs
                WHERE valid_from <= %(day)s AND (valid_until IS NULL OR valid_until >= %(day)s)
                ORDER BY id DESC LIMIT 1
                """,
                {"day": day},
            )
            row = cur.fetchone()
        return ReferralProgram(*row) if row else None

    def take_budget(self, program_id: int, amount: int) -> bool:
        """Count `amount` as spent unless that would pass the budget. One statement: the
        row lock queues concurrent bonuses, so the budget is never passed."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE referral_programs SET spent = spent + %(amount)s
                WHERE id = %(id)s AND spent + %(amount)s <= budget
                RETURNING 1
                """,
                {"id": program_id, "amount": amount},
            )
            return cur.fetchone() is not None

    def decide(
        self,
        invitee_phone: str,
        *,
        referred_user_id: int,
        outcome: str,
        at: datetime,
        program_id: int | None = None,
        transaction_id: int | None = None,
    ) -> None:
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE referrals
                SET referred_user_id = %(user)s, outcome = %(outcome)s, decided_at = %(at)s,
                    program_id = %(program)s, transaction_id = %(tx)s
                WHERE invitee_phone = %(phone)s AND outcome IS NULL
                """,
                {
                    "phone": invitee_phone,
                    "user": referred_user_id,
                    "outcome": outcome,
                    "at": at,
                    "program": program_id,
                    "tx": transaction_id,
                },
            )

    def add_program(
        self, *, bonus: int, budget: int, valid_from: date, valid_until: date | None
    ) -> int:
        with self._conn.cursor() as cur:
            cur.execute(
                """
                INSERT INTO referral_programs (bonus, budget, valid_from, valid_until)
                VALUES (%(bonus)s, %(budget)s, %(start)s, %(until)s) RETURNING id
                """,
                {"bonus": bonus, "budget": budget, "start": valid_from, "until": valid_until},
            )
            return cur.fetchone()[0]
