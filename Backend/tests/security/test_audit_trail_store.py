"""The admin audit trail's storage: an action's row commits with its effect or neither
does; the table is append-only in PostgreSQL itself; X-Request-ID ties a row to its
request; GET /admin/audit reads it back."""

from __future__ import annotations

import httpx
import psycopg2
import psycopg2.errors
import pytest

from app.db.unit_of_work import UnitOfWork
from app.services import admin_audit
from app.services.admin_audit import AuditedUnitOfWork, AuditEntry
from tests.security import admin_audit_world
from tests.security.admin_audit_world import ADMIN, ALICE, BOB, CASH, audit_rows, fingerprint
from tests.support.wallets import ledger_snapshot

# The world's fixtures, used here under their own names.
http, token, world = admin_audit_world.http, admin_audit_world.token, admin_audit_world.world


def test_an_action_whose_audit_row_cannot_be_written_does_not_happen(
    http, clean_database, world, token
):
    """The row is written in the action's own transaction: when PostgreSQL refuses it,
    the cash-in rolls back with it (here a trigger stands in for a full disk)."""
    before = ledger_snapshot(clean_database)
    with clean_database.connection() as conn, conn.cursor() as cur:
        cur.execute(
            "CREATE FUNCTION audit_refuses() RETURNS trigger LANGUAGE plpgsql AS"
            " $$BEGIN RAISE EXCEPTION 'disk full' USING ERRCODE = 'disk_full'; END;$$;"
            " CREATE TRIGGER audit_refuses BEFORE INSERT ON admin_audit"
            " FOR EACH ROW EXECUTE FUNCTION audit_refuses()"
        )
        conn.commit()
    try:
        headers = {"Authorization": f"Bearer {token}"}
        cash = http.post("/cash-in", json=CASH, headers=headers)
        read = http.get(f"/users/{ALICE}", headers=headers)
    finally:
        with clean_database.connection() as conn, conn.cursor() as cur:
            cur.execute("DROP TRIGGER audit_refuses ON admin_audit; DROP FUNCTION audit_refuses()")
            conn.commit()

    assert cash.status_code == 503 and cash.json()["error"] == "audit_unavailable", cash.text
    # A read is not answered either: its data is released only once its row is written.
    assert read.status_code == 503 and "Alice" not in read.text, read.text
    assert ledger_snapshot(clean_database) == before
    assert audit_rows(clean_database) == []


def test_the_trail_is_append_only_in_the_database(http, clean_database, world, token):
    http.get("/ledger/check", headers={"Authorization": f"Bearer {token}"})
    rows = audit_rows(clean_database)
    assert len(rows) == 1
    for sql in (
        "UPDATE admin_audit SET actor = 'someone-else'",
        "DELETE FROM admin_audit",
        "TRUNCATE admin_audit",
    ):
        with clean_database.connection() as conn, conn.cursor() as cur:
            with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="append-only"):
                cur.execute(sql)
            conn.rollback()
    assert audit_rows(clean_database) == rows


# ---- X-Request-ID ---------------------------------------------------------------------


def test_every_answer_carries_a_request_id_a_sane_incoming_one_is_kept(live_server):
    base = live_server.url
    # One client with a patient timeout: on a loaded machine a first answer has taken
    # longer than httpx's default 5 s; what is tested is the header, not the speed.
    http = httpx.Client(timeout=30)
    kept = http.get(base + "/health/live", headers={"X-Request-ID": "lb-7f3a2c9e:01"})
    assert kept.headers["x-request-id"] == "lb-7f3a2c9e:01"
    for insane in ("short", "a b c d e f g h", "x" * 129, "<script>alert(1)</script>"):
        replaced = http.get(base + "/health/live", headers={"X-Request-ID": insane})
        assert replaced.headers["x-request-id"] != insane
        assert len(replaced.headers["x-request-id"]) == 32
    first, second = http.get(base + "/health/live"), http.get(base + "/health/live")
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    refused = http.get(base + ADMIN + "/ledger/check")
    assert refused.status_code == 401 and len(refused.headers["x-request-id"]) == 32
    http.close()


# ---- reading the trail ------------------------------------------------------------------


def test_the_trail_is_read_newest_first_page_by_page_and_filtered(
    http, clean_database, world, token
):
    auth = {"Authorization": f"Bearer {token}"}
    http.get(f"/users/{ALICE}", headers=auth)
    http.get(f"/users/{BOB}", headers=auth)
    http.post("/transactions/{transfer}/reverse".format(**world), headers=auth,
              json={"reason": "caller verified"})  # fmt: skip
    http.get("/ledger/check")  # no token

    pages, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = http.get("/audit", params=params, headers=auth).json()
        pages.append(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    listed = [item["action"] for items in pages for item in items]
    # A listing's own row is written once it has read: later pages (older rows) skip it.
    assert listed == ["ledger_check", "reverse", "get_user", "get_user"]
    assert [len(items) for items in pages] == [2, 2]

    def only(**params: str) -> list[dict]:
        return http.get("/audit", params=params, headers=auth).json()["items"]

    assert [r["action"] for r in only(action="list_audit")] == ["list_audit"] * 2
    (reversal,) = only(action="reverse")
    assert reversal["reason"] == "caller verified"
    assert reversal["target_id"] == str(world["transfer"])
    assert [r["target_id"] for r in only(target_kind="user", target_id=BOB)] == [BOB]
    (anonymous,) = only(actor="anonymous")
    assert (anonymous["action"], anonymous["outcome"]) == ("ledger_check", "refused")
    assert {r["actor"] for r in only(outcome="done", action="get_user")} == {fingerprint(token)}
    assert only(since="2999-01-01T00:00:00Z") == []
    assert only(since="0089-11-07T18:27:27-20:04", action="reverse") == [reversal]
    assert len(only(until="2999-01-01T00:00:00Z", action="get_user")) == 2
    for junk in ({"cursor": "bm90LW1pbmU"}, {"since": "yesterday"}, {"limit": "0"},
                 {"since": "2026-01-01T00:00:00"}, {"outcome": "maybe"},
                 {"since": "0001-01-01T00:00:00+20:00"}):  # fmt: skip
        response = http.get("/audit", params=junk, headers=auth)
        assert response.status_code == 422, (junk, response.text)


def test_an_audited_unit_of_work_writes_its_row_once_with_its_first_commit(clean_database):
    entry = AuditEntry(
        actor="token:0123456789ab", action="cash_in", client_address="10.0.0.7", request_id="r" * 8
    )
    uow = AuditedUnitOfWork(clean_database, entry)
    with uow:
        pass  # rolled back: no row
    assert audit_rows(clean_database) == []
    with uow:
        uow.commit()
    with uow:
        uow.commit()  # a service's second transaction: the request has its row already
    (row,) = audit_rows(clean_database)
    assert (row["action"], row["outcome"], row["id"]) == ("cash_in", "done", entry.recorded_id)
    assert admin_audit.record(UnitOfWork(clean_database), entry, "failed") is None
    assert len(audit_rows(clean_database)) == 1
