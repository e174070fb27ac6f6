"""The ledger's lock order: which accounts an operator marked locked last (migration
0058). Every movement locks its accounts in (locked_last, id) order. The accounts that
can be hot, and so marked, are the ones an owner is paid into: a user's wallet, a
merchant's account, a harambee's escrow. System accounts that take every movement of a
kind are split into shards instead (fees, holds), and keep their place."""

from __future__ import annotations

import psycopg2.errors
import psycopg2.extensions

from app.domain.records.ledger import AccountLockOrder
from app.errors import LedgerBusy

_SELECT = """
    SELECT a.id, a.kind, a.locked_last, u.phone, m.id, c.code
    FROM ledger_accounts a
    LEFT JOIN users u ON a.kind = 'wallet' AND u.id = a.user_id
    LEFT JOIN merchants m ON a.kind = 'merchant' AND m.account_id = a.id
    LEFT JOIN campaigns c ON a.kind = 'campaign' AND c.account_id = a.id
"""


class LockOrderRepository:
    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn

    def find(
        self,
        *,
        phone: str | None = None,
        merchant_id: int | None = None,
        campaign_code: str | None = None,
    ) -> AccountLockOrder | None:
        """The wallet of the phone's user, the merchant's account or the campaign's
        escrow (the one given)."""
        # The account's id through the owner's own unique key: index lookups, never a
        # scan of every account.
        with self._conn.cursor() as cur:
            cur.execute(
                _SELECT
                + """
                WHERE a.id = coalesce(
                    (SELECT w.id FROM users o JOIN ledger_accounts w ON w.user_id = o.id
                     WHERE o.phone = %(phone)s),
                    (SELECT o.account_id FROM merchants o WHERE o.id = %(merchant_id)s),
                    (SELECT o.account_id FROM campaigns o WHERE o.code = %(campaign_code)s))
                """,
                {"phone": phone, "merchant_id": merchant_id, "campaign_code": campaign_code},
            )
            row = cur.fetchone()
        return AccountLockOrder(*row) if row else None

    def marked(self, limit: int) -> list[AccountLockOrder]:
        """The accounts marked locked last, in id order (a partial index holds just
        them: migration 0060)."""
        with self._conn.cursor() as cur:
            cur.execute(
                _SELECT + " WHERE a.locked_last ORDER BY a.id LIMIT %(limit)s", {"limit": limit}
            )
            return [AccountLockOrder(*row) for row in cur.fetchall()]

    def fence(self, wait_ms: int) -> None:
        """Wait (at most wait_ms, else LedgerBusy) until no transaction that read
        ledger_accounts is running, and keep every new one out until this transaction
        ends: a movement reads an account's place in the order and locks by it in one
        transaction, so none runs across a change of order. While it waits, every new
        reader of the accounts queues behind it: wait_ms is what they may lose."""
        with self._conn.cursor() as cur:
            cur.execute("SELECT set_config('lock_timeout', %(ms)s, true)", {"ms": f"{wait_ms}ms"})
            try:
                cur.execute("LOCK TABLE ledger_accounts IN ACCESS EXCLUSIVE MODE")
            except psycopg2.errors.LockNotAvailable:
                raise LedgerBusy("movements kept the ledger busy; nothing changed") from None

    def mark(self, account_id: int, locked_last: bool) -> bool:
        """Whether the account's mark changed (it may have had it already)."""
        with self._conn.cursor() as cur:
            cur.execute(
                "UPDATE ledger_accounts SET locked_last = %(last)s"
                " WHERE id = %(id)s AND locked_last <> %(last)s",
                {"id": account_id, "last": locked_last},
            )
            return cur.rowcount == 1
