"""Registered, funded users and ledger invariants, for ledger tests and benchmarks."""

from __future__ import annotations

from dataclasses import dataclass

from app.db.pool import Database
from app.db.unit_of_work import UnitOfWork
from app.services.adjustments import cash_in
from app.services.custody import SecretBox
from app.services.registration import NewUser, register_user

SHORTCODE = "*384*123#"


def phone_of(n: int) -> str:
    """A valid Kenyan mobile number per n (Safaricom's 0711 range)."""
    return f"+254711{n:06d}"


def register(
    database: Database,
    box: SecretBox,
    pin_hash: str,
    *,
    phone: str,
    name: str = "Amani Otieno",
    language: str = "en",
) -> int:
    """Register a user through the real service; returns the user id."""
    done = register_user(
        UnitOfWork(database),
        box,
        NewUser(
            phone=phone,
            full_name=name,
            pin_hash=pin_hash,
            language=language,
            registration_key=f"test:{phone}",
        ),
        shortcode=SHORTCODE,
    )
    return done.user.id


def fund(database: Database, phone: str, amount: int, reference: str | None = None) -> None:
    """Cash in amount cents from the float, through the real service."""
    cash_in(UnitOfWork(database), phone=phone, amount=amount, reference=reference or f"f-{phone}")


@dataclass(frozen=True)
class LedgerCheck:
    sum_of_all_legs: int
    sum_of_all_balances: int
    negative_wallets: int
    balances_not_equal_to_legs: int
    unbalanced_transactions: int


def check_ledger(database: Database) -> LedgerCheck:
    """The ledger's invariants, computed from scratch by SQL."""
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(
            """
            SELECT
              (SELECT coalesce(sum(amount), 0) FROM journal_legs),
              (SELECT coalesce(sum(balance), 0) FROM ledger_accounts),
              (SELECT count(*) FROM ledger_accounts WHERE kind = 'wallet' AND balance < 0),
              (SELECT count(*) FROM ledger_accounts a
               WHERE a.balance <> (SELECT coalesce(sum(amount), 0) FROM journal_legs l
                                   WHERE l.account_id = a.id)),
              (SELECT count(*) FROM (SELECT transaction_id FROM journal_legs
                                     GROUP BY transaction_id HAVING sum(amount) <> 0) t)
            """
        )
        row = cur.fetchone()
        conn.rollback()
    return LedgerCheck(*(int(v) for v in row))


def wallet_balance(database: Database, user_id: int) -> int:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT balance FROM ledger_accounts WHERE user_id = %s", (user_id,))
        value = cur.fetchone()[0]
        conn.rollback()
    return value
