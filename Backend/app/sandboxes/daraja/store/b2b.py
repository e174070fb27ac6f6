"""B2B payments: Business Pay Bill to a biller's paybill (part of Store,
app/sandboxes/daraja/store/)."""

from __future__ import annotations

from app.sandboxes.daraja.store.core import StoreCore
from app.sandboxes.daraja.store.records import B2BRecord, Delivery


class B2BStore(StoreCore):
    def add_b2b(self, record: B2BRecord, deliveries: list[Delivery]) -> None:
        """Raises sqlite3.IntegrityError on an id seen before."""
        self._add("b2b_payments", record, deliveries)

    def b2b(self, *, originator_conversation_id: str = "", receipt: str = "") -> B2BRecord | None:
        """A B2B payment by its OriginatorConversationID, or by the receipt of a paid one."""
        row = self._one(
            "SELECT * FROM b2b_payments WHERE originator_conversation_id = ?"
            " OR (transaction_id = ? AND result = 'success')",
            (originator_conversation_id, receipt),
        )
        return B2BRecord(**dict(row)) if row else None
