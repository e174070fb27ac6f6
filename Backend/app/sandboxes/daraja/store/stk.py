"""STK pushes and the prompts waiting for the customer's answer (part of Store,
app/sandboxes/daraja/store/)."""

from __future__ import annotations

from dataclasses import astuple

from app.sandboxes.daraja.store.core import StoreCore, _columns, _placeholders
from app.sandboxes.daraja.store.records import Delivery, StkRecord


class StkStore(StoreCore):
    def add_stk(self, record: StkRecord, deliveries: list[Delivery]) -> None:
        """Raises sqlite3.IntegrityError if the CheckoutRequestID is taken."""
        self._add("stk_pushes", record, deliveries)

    def add_stk_prompt(self, record: StkRecord, deliveries: list[Delivery], delivery: str) -> None:
        """A push whose prompt waits for the customer: stored with its timeout outcome
        and callbacks (due at `settles_at`, when the prompt expires), replaced if the
        customer answers first. Raises sqlite3.IntegrityError if the id is taken."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute(
                    f"INSERT INTO stk_pushes ({_columns(StkRecord)})"  # noqa: S608 - fixed names
                    f" VALUES ({_placeholders(StkRecord)})",
                    astuple(record),
                )
                self._conn.execute(
                    "INSERT INTO stk_prompts (checkout_request_id, phone, delivery, expires_at)"
                    " VALUES (?, ?, ?, ?)",
                    (record.checkout_request_id, record.phone, delivery, record.settles_at),
                )
                self._insert_deliveries(deliveries)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def open_prompts(self, phone: str, now: float) -> list[StkRecord]:
        """The pushes whose prompt is on `phone`'s screen at `now`, oldest first."""
        rows = self._all(
            "SELECT s.* FROM stk_prompts p JOIN stk_pushes s USING (checkout_request_id)"
            " WHERE p.phone = ? AND p.answer IS NULL AND p.expires_at > ? ORDER BY s.created_at",
            (phone, now),
        )
        return [StkRecord(**dict(row)) for row in rows]

    def prompt_delivery(self, checkout_request_id: str) -> str | None:
        """How the prompt's callback is to be delivered; None for a push with no prompt."""
        row = self._one(
            "SELECT delivery FROM stk_prompts WHERE checkout_request_id = ?",
            (checkout_request_id,),
        )
        return row["delivery"] if row else None

    def answer_prompt(self, answered: StkRecord, deliveries: list[Delivery], now: float) -> bool:
        """The customer's answer: the push's outcome and callbacks replaced, in one
        transaction, if its prompt is still open at `now` (False otherwise: answered
        already, or timed out and its callback due)."""
        reference = answered.checkout_request_id
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                closed = self._conn.execute(
                    "UPDATE stk_prompts SET answer = ?, answered_at = ? WHERE"
                    " checkout_request_id = ? AND answer IS NULL AND expires_at > ?",
                    (answered.result, now, reference, now),
                ).rowcount
                if closed:
                    self._conn.execute(
                        "UPDATE stk_pushes SET result = ?, result_code = ?, result_desc = ?,"
                        " receipt = ?, settles_at = ? WHERE checkout_request_id = ?",
                        (
                            answered.result,
                            answered.result_code,
                            answered.result_desc,
                            answered.receipt,
                            answered.settles_at,
                            reference,
                        ),
                    )
                    self._conn.execute(
                        "DELETE FROM callbacks WHERE reference = ? AND sent_at IS NULL",
                        (reference,),
                    )
                    self._insert_deliveries(deliveries)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        return bool(closed)

    def stk(self, *, checkout_request_id: str = "", receipt: str = "") -> StkRecord | None:
        row = self._one(
            "SELECT * FROM stk_pushes WHERE checkout_request_id = ? OR receipt = ?",
            (checkout_request_id, receipt),
        )
        return StkRecord(**dict(row)) if row else None
