"""Registered, funded users and ledger invariants, for ledger tests and benchmarks."""

from __future__ import annotations

from dataclasses import dataclass

from app.config import Settings
from app.db.pool import Database
from app.db.repositories.ledger import LedgerCheck
from app.db.unit_of_work import UnitOfWork
from app.services.adjustments import cash_in
from app.services.custody import SecretBox
from app.services.pins import PinHasher
from app.services.registration import NewUser, register_user
from app.services.statements import check_ledger as check_ledger_service

SHORTCODE = "*384*123#"


def phone_of(n: int) -> str:
    """A valid Kenyan mobile number per n (Safaricom's 0711 range)."""
    return f"+254711{n:06d}"


def registration_secrets(settings: Settings, pin: str = "4821") -> tuple[SecretBox, str]:
    """The SecretBox and one PIN hash that register() needs, built once per test."""
    return SecretBox.from_settings(settings), PinHasher.from_settings(settings).hash(pin)


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


def check_ledger(database: Database) -> LedgerCheck:
    """The ledger's invariants, recomputed from scratch by the operators' own check."""
    return check_ledger_service(UnitOfWork(database))


def wallet_balance(database: Database, user_id: int) -> int:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT balance FROM ledger_accounts WHERE user_id = %s", (user_id,))
        value = cur.fetchone()[0]
        conn.rollback()
    return value


@dataclass(frozen=True)
class LedgerSnapshot:
    """What the ledger holds, read from one snapshot."""

    # Wallets by user id, system accounts by code.
    balances: dict[int | str, int]
    # Money sent today and before, summed per wallet owner (user id).
    outflows: dict[int, int]
    journal_transactions: int
    # (dedupe_key, to, template) of every queued SMS, in queue order.
    sms: list[tuple[str, str, str]]


def ledger_snapshot(database: Database) -> LedgerSnapshot:
    with database.connection() as conn, conn.cursor() as cur:
        # One snapshot for every query, so the parts agree with each other.
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        # System accounts by kind: the fees shards add up to one "fees".
        cur.execute(
            "SELECT user_id, kind, sum(balance) FROM ledger_accounts GROUP BY user_id, kind"
        )
        balances = {kind if user_id is None else user_id: int(b) for user_id, kind, b in cur}
        cur.execute(
            "SELECT a.user_id, sum(o.amount) FROM account_outflows o"
            " JOIN ledger_accounts a ON a.id = o.account_id GROUP BY a.user_id"
        )
        outflows = {user_id: int(total) for user_id, total in cur}
        cur.execute("SELECT count(*) FROM journal_transactions")
        journal_transactions = cur.fetchone()[0]
        cur.execute(
            "SELECT dedupe_key, payload->>'to', payload->>'template' FROM outbox ORDER BY id"
        )
        sms = [tuple(row) for row in cur]
        conn.rollback()
    return LedgerSnapshot(balances, outflows, journal_transactions, sms)
