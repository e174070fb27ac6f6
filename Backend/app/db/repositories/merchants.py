"""Merchants, their ledger accounts and their API keys.

A merchant's balance is its ledger account's: read from the ledger, never a counter
kept beside it. Key secrets arrive here already encrypted and leave encrypted.

Long (over 300 lines) because it is the one home of the merchants' SQL: the merchant
row, its payments and its API keys are read and locked together.
"""

from __future__ import annotations

from datetime import datetime

import psycopg2
import psycopg2.errors
import psycopg2.extensions

from app.domain.records.merchants import (
    MerchantKeyRow,
    MerchantRow,
    RailPayer,
    ReceivedPayment,
    SigningKey,
)


class TillTaken(Exception):
    """Another merchant has this till number (the transaction is aborted: roll back)."""


class TooManyLiveKeys(Exception):
    """The database refused a third live key (the transaction is aborted: roll back)."""


_COLUMNS = """m.id, m.legal_name, m.display_name, m.till_number, m.contact_phone,
    m.payout_phone, m.payout_schedule, m.fee_bps, m.fee_min_cents, m.fee_max_cents,
    m.status, m.account_id, a.balance, m.created_at, m.language, m.payout_keep_cents,
    m.payout_threshold_cents"""
# What the merchant `m` holds, as `a.balance`: the sum of every account of it
# (merchant_accounts, migration 0062: a payer at its till always pays the same one, so
# that payments do not queue on one row).
HELD_LATERAL = """JOIN LATERAL (
        SELECT coalesce(sum(sa.balance), 0)::bigint AS balance
        FROM merchant_accounts ma JOIN ledger_accounts sa ON sa.id = ma.account_id
        WHERE ma.merchant_id = m.id) a ON true"""
_FROM = f"FROM merchants m {HELD_LATERAL}"

# The merchant and its accounts in one statement, neither existing without the other:
# shard 0 (merchants.account_id, code 'merchant:<till>') and shards 1 to 7
# ('merchant:<till>:<n>').
_CREATE_SQL = """
    WITH account AS (
        INSERT INTO ledger_accounts (kind, code)
        VALUES ('merchant', 'merchant:' || %(till)s)
        RETURNING id
    ), merchant AS (
        INSERT INTO merchants (legal_name, display_name, till_number, contact_phone,
                               payout_phone, payout_schedule, fee_bps, fee_min_cents,
                               fee_max_cents, account_id, request_hash, language)
        SELECT %(legal_name)s, %(display_name)s, %(till)s, %(contact_phone)s,
               %(payout_phone)s, %(payout_schedule)s, %(fee_bps)s, %(fee_min)s, %(fee_max)s,
               account.id, %(hash)s, %(language)s
        FROM account
        RETURNING id, account_id
    ), shards AS (
        INSERT INTO ledger_accounts (kind, code)
        SELECT 'merchant', 'merchant:' || %(till)s || ':' || n FROM generate_series(1, 7) n
        RETURNING id, code
    ), accounts AS (
        INSERT INTO merchant_accounts (merchant_id, shard, account_id)
        SELECT merchant.id, 0, merchant.account_id FROM merchant
        UNION ALL
        SELECT merchant.id, split_part(shards.code, ':', 3)::smallint, shards.id
        FROM merchant, shards
    )
    SELECT id FROM merchant
"""


class MerchantRepository:
    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn

    def create(
        self,
        *,
        legal_name: str,
        display_name: str,
        till_number: str,
        contact_phone: str,
        payout_phone: str,
        payout_schedule: str,
        fee_bps: int,
        fee_min_cents: int,
        fee_max_cents: int,
        request_hash: str,
        language: str = "en",
    ) -> int:
        """The merchant and its ledger account; returns its id. Raises TillTaken."""
        params = {
            "legal_name": legal_name,
            "display_name": display_name,
            "till": till_number,
            "contact_phone": contact_phone,
            "payout_phone": payout_phone,
            "payout_schedule": payout_schedule,
            "fee_bps": fee_bps,
            "fee_min": fee_min_cents,
            "fee_max": fee_max_cents,
            "hash": request_hash,
            "language": language,
        }
        try:
            with self._conn.cursor() as cur:
                cur.execute(_CREATE_SQL, params)
                return cur.fetchone()[0]
        except psycopg2.errors.UniqueViolation as exc:
            # The till's own index, or the account code 'merchant:<till>' it implies.
            raise TillTaken from exc

    def account_ids(self, merchant_id: int) -> list[int]:
        """The merchant's accounts (shard 0 first), for a lock on all of them."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT account_id FROM merchant_accounts WHERE merchant_id = %(id)s"
                " ORDER BY shard",
                {"id": merchant_id},
            )
            return [row[0] for row in cur.fetchall()]

    def accounts_beside(self, account_id: int) -> list[int]:
        """Every account of the merchant that owns this account (shard 0 first); none
        for an account no merchant owns."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT o.account_id FROM merchant_accounts a
                JOIN merchant_accounts o ON o.merchant_id = a.merchant_id
                WHERE a.account_id = %(id)s ORDER BY o.shard
                """,
                {"id": account_id},
            )
            return [row[0] for row in cur.fetchall()]

    def get(self, merchant_id: int, *, for_update: bool = False) -> MerchantRow | None:
        """One merchant; for_update locks its row (what key issuing serialises on)."""
        lock = " FOR UPDATE OF m" if for_update else ""
        with self._conn.cursor() as cur:
            cur.execute(f"SELECT {_COLUMNS} {_FROM} WHERE m.id = %(id)s{lock}", {"id": merchant_id})
            row = cur.fetchone()
        return MerchantRow(*row) if row else None

    def update(
        self,
        merchant_id: int,
        *,
        legal_name: str,
        display_name: str,
        contact_phone: str,
        payout_phone: str,
        payout_schedule: str,
        fee_bps: int,
        fee_min_cents: int,
        fee_max_cents: int,
        language: str,
        request_hash: str,
    ) -> None:
        """Write an operator's changes (the till and the account never change)."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE merchants
                SET legal_name = %(legal_name)s, display_name = %(display_name)s,
                    contact_phone = %(contact_phone)s, payout_phone = %(payout_phone)s,
                    payout_schedule = %(payout_schedule)s, fee_bps = %(fee_bps)s,
                    fee_min_cents = %(fee_min)s, fee_max_cents = %(fee_max)s,
                    language = %(language)s, request_hash = %(hash)s
                WHERE id = %(id)s
                """,
                {
                    "id": merchant_id,
                    "legal_name": legal_name,
                    "display_name": display_name,
                    "contact_phone": contact_phone,
                    "payout_phone": payout_phone,
                    "payout_schedule": payout_schedule,
                    "fee_bps": fee_bps,
                    "fee_min": fee_min_cents,
                    "fee_max": fee_max_cents,
                    "language": language,
                    "hash": request_hash,
                },
            )

    def set_payout_floor(self, merchant_id: int, *, keep_cents: int, threshold_cents: int) -> None:
        """What a daily payout leaves in the account, and the least it is made for."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE merchants
                SET payout_keep_cents = %(keep)s, payout_threshold_cents = %(threshold)s
                WHERE id = %(id)s
                """,
                {"id": merchant_id, "keep": keep_cents, "threshold": threshold_cents},
            )

    def set_status(self, merchant_id: int, status: str) -> None:
        with self._conn.cursor() as cur:
            cur.execute(
                "UPDATE merchants SET status = %(status)s WHERE id = %(id)s",
                {"id": merchant_id, "status": status},
            )

    def payments(
        self, merchant_id: int, *, before_id: int | None, limit: int
    ) -> list[ReceivedPayment]:
        """Payments to the merchant's till, newest first, older than before_id."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT p.transaction_id, t.reference, p.amount, p.fee,
                       COALESCE(u.full_name, p.rail_payer_name),
                       CASE WHEN p.channel = 'stellar' THEN NULL
                            ELSE COALESCE(u.phone, p.rail_payer) END,
                       p.channel, p.created_at, p.rail_receipt,
                       CASE WHEN p.channel = 'stellar' THEN p.rail_payer END
                FROM merchant_payments p
                JOIN journal_transactions t ON t.id = p.transaction_id
                LEFT JOIN users u ON u.id = p.payer_user_id
                WHERE p.merchant_id = %(merchant)s
                  AND (%(before)s::bigint IS NULL OR p.transaction_id < %(before)s)
                ORDER BY p.transaction_id DESC
                LIMIT %(limit)s
                """,
                {"merchant": merchant_id, "before": before_id, "limit": limit},
            )
            return [ReceivedPayment(*row) for row in cur.fetchall()]

    def by_till(self, till_number: str) -> tuple[MerchantRow, str] | None:
        """The merchant with this till, and the hash of the request that onboarded it."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"SELECT {_COLUMNS}, m.request_hash {_FROM} WHERE m.till_number = %(till)s",
                {"till": till_number},
            )
            row = cur.fetchone()
        return (MerchantRow(*row[:-1]), row[-1]) if row else None

    def record_payment(
        self,
        *,
        transaction_id: int,
        merchant_id: int,
        payer_user_id: int | None,
        amount: int,
        fee: int,
        channel: str,
        created_at: datetime,
        order_id: int | None = None,
        rail: RailPayer | None = None,
    ) -> None:
        """The payment's row beside its journal transaction (the same database transaction):
        a wallet's payer, or (`rail`, payer_user_id None) the rail's."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                INSERT INTO merchant_payments
                    (transaction_id, merchant_id, payer_user_id, amount, fee, channel, created_at,
                     order_id, rail_receipt, rail_payer, rail_payer_name)
                VALUES (%(tx)s, %(merchant)s, %(payer)s, %(amount)s, %(fee)s, %(channel)s,
                        %(created_at)s, %(order)s, %(receipt)s, %(rail_payer)s, %(rail_name)s)
                """,
                {
                    "receipt": rail.receipt if rail else None,
                    "rail_payer": rail.payer if rail else None,
                    "rail_name": rail.payer_name if rail else None,
                    "tx": transaction_id,
                    "merchant": merchant_id,
                    "payer": payer_user_id,
                    "amount": amount,
                    "fee": fee,
                    "channel": channel,
                    "created_at": created_at,
                    "order": order_id,
                },
            )

    def payment(self, transaction_id: int) -> tuple[int, int | None] | None:
        """(merchant id, order id or None) of the payment made by this journal transaction."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT merchant_id, order_id FROM merchant_payments WHERE transaction_id = %(tx)s",
                {"tx": transaction_id},
            )
            row = cur.fetchone()
        return (row[0], row[1]) if row else None

    def page(self, *, limit: int, before_id: int | None, status: str | None) -> list[MerchantRow]:
        """Up to `limit` merchants, newest first, older than `before_id`."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                SELECT {_COLUMNS} {_FROM}
                WHERE (%(before)s::bigint IS NULL OR m.id < %(before)s::bigint)
                  AND (%(status)s::text IS NULL OR m.status = %(status)s::text)
                ORDER BY m.id DESC
                LIMIT %(limit)s
                """,
                {"before": before_id, "status": status, "limit": limit},
            )
            return [MerchantRow(*row) for row in cur.fetchall()]


_KEY_COLUMNS = "key_id, merchant_id, created_at, revoked_at, last_used_at"


class MerchantKeyRepository:
    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn

    def insert(self, *, key_id: str, merchant_id: int, secret_ct: str) -> MerchantKeyRow:
        """A new live key. Raises TooManyLiveKeys (the database's own guard)."""
        try:
            with self._conn.cursor() as cur:
                cur.execute(
                    f"""
                    INSERT INTO merchant_api_keys (key_id, merchant_id, secret_ct)
                    VALUES (%(key_id)s, %(merchant_id)s, %(secret_ct)s)
                    RETURNING {_KEY_COLUMNS}
                    """,
                    {"key_id": key_id, "merchant_id": merchant_id, "secret_ct": secret_ct},
                )
                return MerchantKeyRow(*cur.fetchone())
        except psycopg2.errors.CheckViolation as exc:
            if exc.diag.constraint_name == "merchant_api_keys_two_live":
                raise TooManyLiveKeys from exc
            raise

    def of_merchant(self, merchant_id: int) -> list[MerchantKeyRow]:
        """Every key of a merchant, live and revoked, oldest first."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"SELECT {_KEY_COLUMNS} FROM merchant_api_keys"
                " WHERE merchant_id = %(id)s ORDER BY id",
                {"id": merchant_id},
            )
            return [MerchantKeyRow(*row) for row in cur.fetchall()]

    def count_live(self, merchant_id: int) -> int:
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM merchant_api_keys"
                " WHERE merchant_id = %(id)s AND revoked_at IS NULL",
                {"id": merchant_id},
            )
            return cur.fetchone()[0]

    def revoke(self, *, merchant_id: int, key_id: str, now: datetime) -> MerchantKeyRow | None:
        """Revoke a key of this merchant (a revoked one keeps its first revoked_at);
        None when the merchant has no such key."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                UPDATE merchant_api_keys SET revoked_at = coalesce(revoked_at, %(now)s)
                WHERE key_id = %(key_id)s AND merchant_id = %(merchant_id)s
                RETURNING {_KEY_COLUMNS}
                """,
                {"key_id": key_id, "merchant_id": merchant_id, "now": now},
            )
            row = cur.fetchone()
        return MerchantKeyRow(*row) if row else None

    def signing_key(self, key_id: str) -> SigningKey | None:
        """A key and its merchant's status, in one round trip (every signed request)."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT k.key_id, k.merchant_id, k.secret_ct, k.revoked_at IS NOT NULL,
                       m.status, k.last_used_at
                FROM merchant_api_keys k JOIN merchants m ON m.id = k.merchant_id
                WHERE k.key_id = %(key_id)s
                """,
                {"key_id": key_id},
            )
            row = cur.fetchone()
        return SigningKey(*row) if row else None

    def batch_for_rekey(self, after_id: int, limit: int) -> list[tuple[int, str]]:
        """Lock the next batch of keys (by id): (row id, encrypted secret), revoked ones
        too (a revoked secret must still open for as long as it is kept)."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT id, secret_ct FROM merchant_api_keys WHERE id > %(after)s
                ORDER BY id LIMIT %(limit)s FOR UPDATE
                """,
                {"after": after_id, "limit": limit},
            )
            return [(row[0], row[1]) for row in cur.fetchall()]

    def set_secret(self, row_id: int, secret_ct: str) -> None:
        with self._conn.cursor() as cur:
            cur.execute(
                "UPDATE merchant_api_keys SET secret_ct = %(ct)s WHERE id = %(id)s",
                {"ct": secret_ct, "id": row_id},
            )

    def touch(self, key_id: str, *, now: datetime, older_than: datetime) -> None:
        """Set last_used_at, only when it is `older_than` or older: a busy key writes its
        row once a minute, not once a request (two processes racing write it twice)."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE merchant_api_keys SET last_used_at = %(now)s
                WHERE key_id = %(key_id)s
                  AND (last_used_at IS NULL OR last_used_at <= %(older_than)s)
                """,
                {"key_id": key_id, "now": now, "older_than": older_than},
            )
