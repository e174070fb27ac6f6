"""The sandbox's state in SQLite under its data directory: issued tokens, every STK
push and B2C payment with the outcome it was given, the STK prompts waiting for the
customer's answer, the paybill's C2B URLs and
payments, reversals, the scenario rules, and every callback planned and sent. It
survives restarts, so a query after a restart answers as before and callbacks due
meanwhile are still sent.

The store is one class, Store, over one SQLite connection and its lock (a request and
its planned callbacks are written in one transaction): its part per product lives in a
module of this package (stk.py, b2c.py, b2b.py, c2b.py with reversals), what they share
(the schema, the connection, tokens, scenario rules, callbacks) in core.py, their
records in records.py; the statement, which reads every product, is here.
"""

from __future__ import annotations

from app.sandboxes.daraja.store.b2b import B2BStore
from app.sandboxes.daraja.store.b2c import B2CStore
from app.sandboxes.daraja.store.c2b import C2BStore
from app.sandboxes.daraja.store.core import DB_FILE, SCHEMA
from app.sandboxes.daraja.store.records import (
    B2BRecord,
    B2CRecord,
    C2BRecord,
    C2BUrls,
    Delivery,
    ReversalRecord,
    StkRecord,
)
from app.sandboxes.daraja.store.stk import StkStore

__all__ = [
    "DB_FILE",
    "SCHEMA",
    "B2BRecord",
    "B2CRecord",
    "C2BRecord",
    "C2BUrls",
    "Delivery",
    "ReversalRecord",
    "StkRecord",
    "Store",
]


class Store(StkStore, B2CStore, B2BStore, C2BStore):
    """One SQLite connection shared by the request handlers and the callback sender."""

    def completed_between(
        self, start: float, end: float
    ) -> tuple[list[StkRecord], list[B2CRecord]]:
        """The STK pushes paid and the B2C payments made in [start, end): a statement."""
        pushes = self._all(
            "SELECT * FROM stk_pushes WHERE result_code = 0 AND settles_at >= ?"
            " AND settles_at < ? ORDER BY settles_at",
            (start, end),
        )
        payments = self._all(
            "SELECT * FROM b2c_payments WHERE result_code = 0 AND settles_at >= ?"
            " AND settles_at < ? ORDER BY settles_at",
            (start, end),
        )
        return [StkRecord(**dict(r)) for r in pushes], [B2CRecord(**dict(r)) for r in payments]

    def rail_completed_between(
        self, start: float, end: float
    ) -> tuple[list[C2BRecord], list[B2BRecord], list[ReversalRecord]]:
        """The paybill payments completed, the B2B payments made and the reversals done
        in [start, end): the rest of a statement."""
        c2b = self._all(
            "SELECT * FROM c2b_payments WHERE status = 'completed' AND settled_at >= ?"
            " AND settled_at < ? ORDER BY settled_at",
            (start, end),
        )
        b2b = self._all(
            "SELECT * FROM b2b_payments WHERE result_code = 0 AND settles_at >= ?"
            " AND settles_at < ? ORDER BY settles_at",
            (start, end),
        )
        reversals = self._all(
            "SELECT * FROM reversals WHERE result_code = '0' AND settles_at >= ?"
            " AND settles_at < ? ORDER BY settles_at",
            (start, end),
        )
        return (
            [C2BRecord(**dict(r)) for r in c2b],
            [B2BRecord(**dict(r)) for r in b2b],
            [ReversalRecord(**dict(r)) for r in reversals],
        )
