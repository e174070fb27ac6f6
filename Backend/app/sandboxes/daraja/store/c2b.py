"""C2B: the URLs a shortcode registered, the payments customers made to it, and their
reversals (part of Store, app/sandboxes/daraja/store/)."""

from __future__ import annotations

from dataclasses import astuple

from app.sandboxes.daraja.store.core import StoreCore
from app.sandboxes.daraja.store.records import C2BRecord, C2BUrls, Delivery, ReversalRecord


class C2BStore(StoreCore):
    # C2B: the URLs a shortcode registered, and the payments customers made to it
    def register_c2b(self, urls: C2BUrls) -> None:
        """Register (or replace) the shortcode's URLs."""
        with self._lock:
            self._conn.execute("INSERT OR REPLACE INTO c2b_urls VALUES (?, ?, ?, ?)", astuple(urls))

    def c2b_urls(self, shortcode: str) -> C2BUrls | None:
        row = self._one("SELECT * FROM c2b_urls WHERE shortcode = ?", (shortcode,))
        return C2BUrls(**dict(row)) if row else None

    def add_c2b(self, record: C2BRecord) -> None:
        """Raises sqlite3.IntegrityError if the TransID is taken."""
        self._add("c2b_payments", record, [])

    def c2b(self, trans_id: str) -> C2BRecord | None:
        row = self._one("SELECT * FROM c2b_payments WHERE trans_id = ?", (trans_id,))
        return C2BRecord(**dict(row)) if row else None

    def settle_c2b(
        self, trans_id: str, status: str, validation: str, at: float, deliveries: list[Delivery]
    ) -> None:
        """The payment's end (completed, rejected, cancelled) and its confirmation, if any."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute(
                    "UPDATE c2b_payments SET status = ?, validation = ?, settled_at = ?"
                    " WHERE trans_id = ?",
                    (status, validation, at, trans_id),
                )
                self._insert_deliveries(deliveries)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def add_reversal(self, record: ReversalRecord, deliveries: list[Delivery]) -> None:
        """Raises sqlite3.IntegrityError when the payment was reversed already."""
        self._add("reversals", record, deliveries)

    def reversal(self, originator_conversation_id: str) -> ReversalRecord | None:
        row = self._one(
            "SELECT * FROM reversals WHERE originator_conversation_id = ?",
            (originator_conversation_id,),
        )
        return ReversalRecord(**dict(row)) if row else None

    def reversed_payment(self, trans_id: str) -> ReversalRecord | None:
        """The reversal that returned this payment, if one did."""
        row = self._one(
            "SELECT * FROM reversals WHERE trans_id = ? AND result_code = '0'", (trans_id,)
        )
        return ReversalRecord(**dict(row)) if row else None
