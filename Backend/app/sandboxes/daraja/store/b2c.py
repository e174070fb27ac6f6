"""B2C payments: PayTrace's paybill paying a customer's phone (part of Store,
app/sandboxes/daraja/store/)."""

from __future__ import annotations

from app.sandboxes.daraja.store.core import StoreCore
from app.sandboxes.daraja.store.records import B2CRecord, Delivery


class B2CStore(StoreCore):
    def add_b2c(self, record: B2CRecord, deliveries: list[Delivery]) -> None:
        """Raises sqlite3.IntegrityError on an OriginatorConversationID seen before."""
        self._add("b2c_payments", record, deliveries)

    def b2c(self, *, originator_conversation_id: str = "", receipt: str = "") -> B2CRecord | None:
        """A payment by its OriginatorConversationID, or by the receipt of a paid one."""
        row = self._one(
            "SELECT * FROM b2c_payments WHERE originator_conversation_id = ?"
            " OR (transaction_id = ? AND result = 'success')",
            (originator_conversation_id, receipt),
        )
        return B2CRecord(**dict(row)) if row else None
