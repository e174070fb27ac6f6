"""A payment at a merchant's till in two round trips (migration 0061): the read before
it (the merchant at the till and the payer, without a lock), then `ledger_merchant_pay`,
which checks and posts it under the locks in one statement."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

import psycopg2.extensions

from app.db.repositories.ledger import Party, PendingMessage, posting_errors
from app.domain.accounts import ISSUER_KINDS
from app.domain.records.merchants import MerchantRow

# A PendingMessage's balance_of for the merchant's notice: its account's balance (user
# ids are >= 1).
MERCHANT_BALANCE = 0


@dataclass(frozen=True, slots=True)
class MerchantPayOutcome:
    """What `ledger_merchant_pay` answered (migration 0061 lists the outcomes)."""

    outcome: str
    transaction_id: int | None
    balance: int | None  # the payer's: after when posted, before on a refusal
    merchant_balance: int | None  # the merchant's account's after
    day_total: int | None  # the payer's outflows today and over 30 days (limits)
    rolling_total: int | None


_PAY_SQL = """
    SELECT * FROM ledger_merchant_pay(
        %(payer)s, %(merchant)s, %(account)s, %(fees_code)s, %(amount)s, %(fee)s, %(key)s,
        %(hash)s, %(reference)s, %(channel)s, %(note)s, %(created_at)s, %(today)s,
        %(issuer_kinds)s::text[], %(messages)s::jsonb)
"""


class MerchantPaymentRepository:
    def __init__(
        self,
        conn: psycopg2.extensions.connection,
        posted: Callable[[str], None] = lambda kind: None,
    ) -> None:
        self._conn = conn
        self._posted = posted  # counts a movement posted here (LedgerRepository.posted)

    def parties(self, till: str, payer_user_id: int) -> tuple[MerchantRow | None, Party | None]:
        """The merchant at this till (whatever its status) and the payer, read without a
        lock: one round trip before a payment, its plan kept for the session."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT * FROM ledger_merchant_payment_parties(%(till)s, %(payer)s)",
                {"till": till, "payer": payer_user_id},
            )
            row = cur.fetchone()
        merchant = MerchantRow(*row[:17]) if row[0] is not None else None
        return merchant, (Party(*row[17:21]) if row[17] is not None else None)

    def pay(
        self,
        *,
        payer_user_id: int,
        merchant: MerchantRow,
        fees_code: str,
        amount: int,
        fee: int,
        idempotency_key: str,
        request_hash: str,
        reference: str,
        channel: str,
        note: str,
        created_at: datetime,
        today: date,
        messages: tuple[PendingMessage, ...],
    ) -> MerchantPayOutcome:
        """Check and post a payment at the merchant's till in one call of
        `ledger_merchant_pay` (migration 0061): the key, the limits and the balance
        checked under the payer's lock, then the journal transaction, its legs, the
        outflow, the settlement row, the payment's row and the SMS (each message's
        text completed with its reader's balance after the payment: the payer's, or
        with balance_of MERCHANT_BALANCE the merchant's). A refusal comes back as
        the outcome, nothing written.

        Raises KeyTaken, ReferenceTaken or Overdraft (as LedgerRepository.post); each
        leaves the database transaction aborted, so the caller must roll back.
        """
        params = {
            "payer": payer_user_id,
            "merchant": merchant.id,
            "account": merchant.account_id,
            "fees_code": fees_code,
            "amount": amount,
            "fee": fee,
            "key": idempotency_key,
            "hash": request_hash,
            "reference": reference,
            "channel": channel,
            "note": note,
            "created_at": created_at,
            "today": today,
            "issuer_kinds": list(ISSUER_KINDS),
            "messages": json.dumps([m.as_json() for m in messages]),
        }
        with posting_errors(), self._conn.cursor() as cur:
            cur.execute(_PAY_SQL, params)
            outcome = MerchantPayOutcome(*cur.fetchone())
        if outcome.outcome == "posted":
            self._posted("merchant_payment")
        return outcome
