"""Reads of the local network's transactions, operations and effects, in Horizon's
total order, for one account or the whole network (closed ledgers only).

A transaction's paging token is toid(ledger, order); an operation's is its id,
toid(ledger, order, index); an effect's is "<operation id>-<index>". Operations and
effects are derived from the stored envelopes (history.py) and listed for successful
transactions only, as Horizon lists them by default.
"""

from __future__ import annotations

from app.sandboxes.stellar import history, history_resources
from app.sandboxes.stellar.amounts import INT64_MAX
from app.sandboxes.stellar.queries import Reader

_TX = "SELECT t.*, l.closed_at FROM transactions t JOIN ledgers l ON l.sequence = t.ledger"
_ORDER_ASC = " ORDER BY t.ledger ASC, t.application_order ASC LIMIT ?"
_ORDER_DESC = " ORDER BY t.ledger DESC, t.application_order DESC LIMIT ?"
_TOID = "((t.ledger << 32) | (t.application_order << 12))"
_OF_ACCOUNT = (
    " AND EXISTS (SELECT 1 FROM participants p WHERE p.account_id = ?"
    " AND p.tx_id = ((t.ledger << 32) | (t.application_order << 12)) AND p.op_index = 0)"
)
_TX_BATCH = 50
_OP_MASK = ~0xFFF


class History:
    """Transactions, operations and effects over a Reader's database."""

    def __init__(self, reader: Reader, passphrase: str) -> None:
        self.reader = reader
        self.passphrase = passphrase

    def transactions(
        self,
        start: int,
        order: str,
        limit: int,
        *,
        account: str | None = None,
        include_failed: bool = False,
        strict: bool = True,
    ) -> list[dict]:
        """Transaction rows after (asc) or before (desc) the paging token `start`;
        `strict=False` includes the one at `start`."""
        asc = order == "asc"
        compare = (">" if strict else ">=") if asc else ("<" if strict else "<=")
        sql = f"{_TX} WHERE {_TOID} {compare} ?"
        params: list = [start]
        if not include_failed:
            sql += " AND t.successful = 1"
        if account is not None:
            sql += _OF_ACCOUNT
            params.append(account)
        sql += _ORDER_ASC if asc else _ORDER_DESC
        with self.reader._snapshot() as conn:
            return [dict(row) for row in conn.execute(sql, (*params, limit))]

    def operations(
        self, start: int, order: str, limit: int, *, account: str | None = None
    ) -> list[tuple[dict, history.Op]]:
        """(transaction row, operation) pairs after/before the operation id `start`;
        with `account`, the operations it took part in."""
        asc, found = order == "asc", []
        tx_start, strict = start & _OP_MASK, False
        while len(found) < limit:
            rows = self.transactions(tx_start, order, _TX_BATCH, account=account, strict=strict)
            for row in rows:
                ops = history.operations(row, self.passphrase)
                if account is not None:
                    taken = self._op_indexes(account, ops[0].id & _OP_MASK) if ops else set()
                    ops = [op for op in ops if op.index in taken]
                ops = [op for op in ops if (op.id > start if asc else op.id < start)]
                found.extend((row, op) for op in (ops if asc else reversed(ops)))
            if len(rows) < _TX_BATCH:
                break
            tx_start = history.toid(rows[-1]["ledger"], rows[-1]["application_order"])
            strict = True
        return found[:limit]

    def _op_indexes(self, account: str, tx_id: int) -> set[int]:
        """The indexes of the transaction's operations that `account` took part in."""
        with self.reader._snapshot() as conn:
            rows = conn.execute(
                "SELECT op_index FROM participants WHERE account_id = ? AND tx_id = ?",
                (account, tx_id),
            )
            return {row[0] for row in rows}

    def effects(
        self,
        base: str,
        start: tuple[int, int],
        order: str,
        limit: int,
        *,
        account: str | None = None,
    ) -> list[dict]:
        """Effect resources after/before (operation id, index) `start`; with `account`,
        the effects on that account."""
        asc, found = order == "asc", []
        # The operation at `start` may have effects left after its index: read it again.
        op_start = start[0] - 1 if asc else min(start[0] + 1, INT64_MAX)
        while len(found) < limit:
            batch = self.operations(op_start, order, _TX_BATCH, account=account)
            for row, op in batch:
                made = history_resources.effects(base, row, op, self.had_line)
                if account is not None:
                    made = [e for e in made if e["account"] == account]
                made = [e for e in made if _after(_key(e), start, asc)]
                found.extend(made if asc else reversed(made))
            if len(batch) < _TX_BATCH:
                break
            op_start = batch[-1][1].id
        return found[:limit]

    def operations_of(self, row: dict) -> list[history.Op]:
        """A stored transaction's operations (none shown for a failed one)."""
        return history.operations(row, self.passphrase) if row["successful"] else []

    def operation(self, op_id: int) -> tuple[dict, history.Op] | None:
        """One operation of a successful transaction, with its transaction row."""
        [found] = self.operations(op_id - 1, "asc", 1) or [None]
        return found if found is not None and found[1].id == op_id else None

    def had_line(self, account: str, code: str, issuer: str, before_op: int) -> bool:
        """Whether `account` held a trustline to code:issuer just before operation
        `before_op`: its change_trust operations replayed in order."""
        held = False
        for _, op in self.operations(0, "asc", 10_000, account=account):
            if op.id >= before_op:
                break
            if op.source == account and history_resources.trusts(op.op, code, issuer):
                held = history_resources.trust_limit(op.op) != 0
        return held


def _key(effect: dict) -> tuple[int, int]:
    op_id, index = effect["paging_token"].split("-")
    return int(op_id), int(index)


def _after(key: tuple[int, int], start: tuple[int, int], asc: bool) -> bool:
    return key > start if asc else key < start
