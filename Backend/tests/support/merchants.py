"""Merchants for tests: onboarded and keyed through the real services, and requests
signed exactly as docs/merchants.md tells a merchant to sign them."""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from app.config import Settings
from app.db.pool import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.merchants import FeeRule
from app.services import merchant_keys, merchants
from app.services.custody import SecretBox
from app.services.merchant_signatures import HEADER, header_value

ADMIN = "/api/v1/admin"


def application(till: str = "512345", **changes: object) -> merchants.Application:
    fields: dict[str, object] = {
        "legal_name": "Mama Mboga Groceries Ltd",
        "display_name": "MAMA MBOGA",
        "till_number": till,
        "contact_phone": "0711000101",
        "payout_phone": "0711000102",
        "payout_schedule": "daily",
        "fee": FeeRule(50, 0, 20_000),
    }
    fields.update(changes)
    return merchants.Application(**fields)  # type: ignore[arg-type]


def onboard_body(till: str = "512345", **changes: object) -> dict[str, object]:
    """The admin API's JSON for `application(till)`."""
    body: dict[str, object] = {
        "legal_name": "Mama Mboga Groceries Ltd",
        "display_name": "MAMA MBOGA",
        "till_number": till,
        "contact_phone": "0711000101",
        "payout_phone": "0711000102",
        "payout_schedule": "daily",
        "fee_bps": 50,
        "fee_min_cents": 0,
        "fee_max_cents": 20_000,
    }
    body.update(changes)
    return body


@dataclass(frozen=True)
class Keyed:
    merchant_id: int
    key_id: str
    secret: str


def keyed_merchant(database: Database, settings: Settings, till: str = "512345") -> Keyed:
    """A merchant with one live key, through the real services."""
    merchant = merchants.onboard(UnitOfWork(database), application(till)).merchant
    return key_for(database, settings, merchant.id)


def key_for(database: Database, settings: Settings, merchant_id: int) -> Keyed:
    """A live key issued to an onboarded merchant, through the real services."""
    issued = merchant_keys.issue_key(
        UnitOfWork(database), SecretBox.from_settings(settings), merchant_id
    )
    return Keyed(merchant_id, issued.key.key_id, issued.secret)


_SIGNED: set[tuple[int, str, str, str, bytes]] = set()


def fresh_timestamp(key_id: str, method: str, path: str, body: bytes = b"") -> int:
    """A t this process has not signed this very request with: a retry within the same
    second would otherwise carry the first one's signature, refused as a replay (by
    design). Steps back a second at a time, well inside the ±300 s window."""
    t = int(time.time())
    while (t, key_id, method, path, body) in _SIGNED:
        t -= 1
    _SIGNED.add((t, key_id, method, path, body))
    return t


def signed_headers(
    key_id: str,
    secret: str,
    method: str,
    path: str,
    body: bytes = b"",
    timestamp: int | None = None,
) -> dict[str, str]:
    t = int(time.time()) if timestamp is None else timestamp
    return {HEADER: header_value(key_id, secret, t, method, path, body)}


def signed_request(
    client: httpx.Client,
    keyed: Keyed,
    method: str,
    path: str,
    body: bytes = b"",
    timestamp: int | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """A request signed as a merchant signs it (path with its query, as sent); `headers`
    are sent beside the signature (an Idempotency-Key, a Content-Type)."""
    signed = signed_headers(keyed.key_id, keyed.secret, method, path, body, timestamp)
    return client.request(method, path, content=body or None, headers={**signed, **(headers or {})})


def key_row(database: Database, key_id: str) -> dict[str, object]:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT to_jsonb(k) FROM merchant_api_keys k WHERE key_id = %(k)s", {"k": key_id}
        )
        row = cur.fetchone()
        conn.rollback()
    assert row is not None
    return row[0]


def execute(database: Database, sql: str, params: dict | None = None) -> None:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        conn.commit()


def account_paid_by(database: Database, merchant_id: int, user_id: int) -> int:
    """The merchant's account a user's payments at its till go to: its shard for the
    user's wallet (migration 0062)."""
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT m.account_id FROM merchant_accounts m JOIN ledger_accounts w"
            " ON w.user_id = %(user)s AND m.shard = w.id %% 8 WHERE m.merchant_id = %(m)s",
            {"user": user_id, "m": merchant_id},
        )
        [account] = cur.fetchone()
        conn.rollback()
    return account
