"""The books a movement leaves, read back for tests that hold a one-statement posting
path to the statement-by-statement one it replaced: every row it writes, with its
random parts (transaction references, campaign codes) replaced by their order."""

from __future__ import annotations

from app.db.pool import Database


def movement_books(
    database: Database, *, kind: str, tables: dict[str, str], templates: str
) -> dict[str, list]:
    """The journal, legs, settlements, outflows, accounts, the outbox rows whose
    template is LIKE `templates`, and each of `tables` (name: its SELECT) as read. The
    journal rows of other kinds (the funding's, stamped with the moment the test ran)
    are read without their times."""
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT reference FROM journal_transactions ORDER BY id")
        references = [row[0] for row in cur.fetchall()]
        cur.execute("SELECT code FROM campaigns ORDER BY id")
        codes = [row[0] for row in cur.fetchall()]

        def plain(value: object) -> object:
            text = str(value)
            for n, reference in enumerate(references):
                text = text.replace(reference, f"<ref {n}>")
            for n, code in enumerate(codes):  # random too
                text = text.replace(code, f"<code {n}>")
            return text

        books: dict[str, list] = {}
        cur.execute(
            "SELECT id, kind, amount, fee, idempotency_key, request_hash, reverses_id, channel,"
            " initiator_user_id, note, created_at FROM journal_transactions ORDER BY id"
        )
        books["journal"] = [row if row[1] == kind else row[:-1] for row in cur]
        cur.execute(
            "SELECT transaction_id, account_id, amount, balance_after FROM journal_legs ORDER BY id"
        )
        books["legs"] = cur.fetchall()
        cur.execute(
            "SELECT transaction_id, status, payers, parties, origin, tx_hash, settled_at"
            " FROM stellar_settlements ORDER BY transaction_id"
        )
        books["settlements"] = cur.fetchall()
        cur.execute("SELECT * FROM account_outflows ORDER BY account_id, day")
        books["outflows"] = cur.fetchall()
        for name, select in tables.items():
            cur.execute(select)
            books[name] = cur.fetchall()
        cur.execute(
            "SELECT id, kind, payload, dedupe_key, status FROM outbox"
            " WHERE payload->>'template' LIKE %(templates)s ORDER BY id",
            {"templates": templates},
        )
        books["outbox"] = [
            (n, kind, plain(sorted(payload.items())), plain(key), status)
            for n, kind, payload, key, status in cur.fetchall()
        ]
        cur.execute("SELECT id, kind, code, user_id, balance FROM ledger_accounts ORDER BY id")
        books["accounts"] = [(*row[:2], plain(row[2]), *row[3:]) for row in cur.fetchall()]
        conn.rollback()
    return books
