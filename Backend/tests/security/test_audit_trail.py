"""The admin audit trail: every admin route leaves one row per request (who, what, when,
from where, how it ended), refused requests too; an action's row commits with its
effect or neither does; the table is append-only in the database itself."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import psycopg2
import psycopg2.errors
import pytest

from app.config import Settings
from app.db.unit_of_work import UnitOfWork
from app.errors import WrongPin
from app.services.pins import PinHasher, PinPolicy, verify_pin
from tests.conftest import LiveServer
from tests.support.routes import http_routes
from tests.support.wallets import (
    fund,
    ledger_snapshot,
    phone_of,
    register,
    registration_secrets,
)

ADMIN = "/api/v1/admin"
ALICE, BOB = phone_of(1), phone_of(2)


@dataclass(frozen=True)
class Case:
    """One request to one admin route, and the row it must leave. The url (the route's
    path when not given), the target and the body may name the world's ids: {transfer},
    {cash_in}. `tx`: the row is written by the commit of the action's transaction."""

    method: str
    route: str  # the route's path under /api/v1/admin, as the app lists it
    status: int
    url: str | None = None
    target: tuple[str, str] | None = None
    json: dict | None = None
    tx: bool = False


USER, TRANSFER, CASH_IN = (
    ("user", ALICE),
    ("transaction", "{transfer}"),
    ("transaction", "{cash_in}"),
)
CASH = {"phone": ALICE, "amount": 700, "reference": "AG-77"}

# One line per admin route: a route added without its line fails
# test_every_admin_route_has_an_audit_case.
# fmt: off
CASES = [
    Case("GET", "/users/{phone}", 200, "/users/0711000001", USER),
    Case("POST", "/cash-in", 201, target=USER, json=CASH, tx=True),
    Case("GET", "/transactions/{transaction_id}", 200, "/transactions/{transfer}", TRANSFER),
    Case("POST", "/transactions/{transaction_id}/reverse", 201, "/transactions/{transfer}/reverse",
         TRANSFER, {"reason": "sent to the wrong number"}, tx=True),
    Case("POST", "/users/{phone}/unlock", 200, f"/users/{ALICE}/unlock", USER, tx=True),
    Case("GET", "/ledger/check", 200),
    Case("GET", "/reconciliation", 404),
    Case("GET", "/settlements", 200, "/settlements?status=pending"),
    Case("POST", "/settlements/{transaction_id}/retry", 200, "/settlements/{cash_in}/retry",
         CASH_IN, tx=True),
    Case("GET", "/callbacks", 200, "/callbacks?provider=mpesa"),
    Case("GET", "/audit", 200, "/audit?outcome=refused"),
]
# fmt: on


def admin_routes() -> dict[tuple[str, str], str]:
    """(method, path under /api/v1/admin) -> the route's name, the action it records."""
    return {
        (route.method, route.path.removeprefix(ADMIN)): route.name
        for route in http_routes()
        if route.path.startswith(ADMIN + "/")
    }


def test_every_admin_route_has_an_audit_case():
    covered = {(case.method, case.route) for case in CASES}
    routes = set(admin_routes())
    missing = routes - covered
    assert not missing, f"admin routes without an audit case in CASES: {sorted(missing)}"
    assert not covered - routes, "CASES names a route that does not exist"


# ---- the world ---------------------------------------------------------------------


@pytest.fixture
def token(live_settings: Settings) -> str:
    assert live_settings.admin_token is not None
    return live_settings.admin_token.get_secret_value()


@pytest.fixture
def http(live_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url + ADMIN, timeout=10) as client:
        yield client


@pytest.fixture
def world(live_settings: Settings, clean_database) -> dict[str, int]:
    """Alice and Bob; Alice cashed in and sent Bob money, and mistyped her PIN once."""
    box, pin_hash = registration_secrets(live_settings)
    alice = register(clean_database, box, pin_hash, phone=ALICE, name="Alice Wanjiru")
    register(clean_database, box, pin_hash, phone=BOB, name="Bob Otieno")
    fund(clean_database, ALICE, 50_000, reference="float-1")
    from app.services import transfers
    from app.services.transfers import TransferRequest

    moved = transfers.transfer(
        UnitOfWork(clean_database),
        TransferRequest(
            sender_user_id=alice, recipient_phone=BOB, amount=10_000, idempotency_key="t1"
        ),
    )
    with pytest.raises(WrongPin):
        verify_pin(
            UnitOfWork(clean_database),
            PinHasher.from_settings(live_settings),
            PinPolicy.from_settings(live_settings),
            user_id=alice,
            pin="9999",
            attempt_key="wrong-1",
        )
    cash_in = query(clean_database, "SELECT min(id) FROM journal_transactions")[0][0]
    return {"transfer": moved.transaction_id, "cash_in": cash_in, "alice": alice}


def query(database, sql: str, params: dict | None = None) -> list[tuple]:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
        conn.rollback()
    return rows


def audit_rows(database) -> list[dict]:
    rows = query(database, "SELECT to_jsonb(a) FROM admin_audit a ORDER BY id")
    return [row[0] for row in rows]


def fingerprint(token: str) -> str:
    return "token:" + hashlib.sha256(token.encode()).hexdigest()[:12]


# ---- each route's row ----------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[f"{c.method} {c.route}" for c in CASES])
def test_each_admin_route_writes_its_audit_row(http, clean_database, world, token, case):
    request_id = f"case-{uuid.uuid4().hex}"
    body = {k: v.format(**world) if isinstance(v, str) else v for k, v in (case.json or {}).items()}
    response = http.request(
        case.method,
        (case.url or case.route).format(**world),
        json=body or None,
        headers={"Authorization": f"Bearer {token}", "X-Request-ID": request_id},
    )
    assert response.status_code == case.status, response.text
    assert response.headers["x-request-id"] == request_id

    (row,) = [row for row in audit_rows(clean_database) if row["request_id"] == request_id]
    assert row["action"] == admin_routes()[(case.method, case.route)]
    assert row["actor"] == fingerprint(token)
    assert row["client_address"] == "127.0.0.1"
    assert row["outcome"] == ("done" if case.status < 400 else "refused")
    target = (row["target_kind"], row["target_id"])
    expected = tuple(part.format(**world) for part in case.target) if case.target else None
    assert target == (expected or (None, None))
    assert row["detail"]["method"] == case.method
    assert row["detail"].get("status", case.status) == case.status
    assert row["detail"].get("committed_with_action", False) is case.tx
    assert token not in str(row)


# ---- refused requests are recorded, the token never is ----------------------------


def test_refused_admin_requests_are_recorded_without_the_token(http, clean_database, world, token):
    before = ledger_snapshot(clean_database)
    wrong = "wrong-" + token[::-1]
    refusals = [
        # (request, expected status, error, actor)
        (("POST", "/cash-in", {"phone": ALICE, "amount": 700, "reference": "X"}, {}), 401,
         "unauthorized", "anonymous"),
        (("GET", f"/users/{ALICE}", None, {"Authorization": f"Bearer {wrong}"}), 401,
         "unauthorized", "anonymous"),
        (("POST", "/cash-in", {"phone": ALICE, "amount": -5, "reference": "X"}, None), 422,
         "validation_failed", fingerprint(token)),
        (("GET", f"/users/{phone_of(99)}", None, None), 404, "not_found", fingerprint(token)),
        (("POST", "/transactions/{transfer}/reverse", None, {"X-Audit-Reason": "x" * 201}), 422,
         "invalid_reason", fingerprint(token)),
        (("GET", "/users/%00?x=%00&y=%ED%A0%80", None, None), 422, "invalid_phone",
         fingerprint(token)),
        (("GET", "/reconciliation?x=%00", None, {}), 401, "unauthorized", "anonymous"),
    ]  # fmt: skip
    for (method, url, body, headers), status, error, actor in refusals:
        request_id = f"refused-{uuid.uuid4().hex}"
        sent = {"Authorization": f"Bearer {token}", "X-Request-ID": request_id}
        sent.update(headers if headers is not None else {})
        if headers == {}:
            del sent["Authorization"]
        response = http.request(method, url.format(**world), json=body, headers=sent)
        assert response.status_code == status, response.text
        (row,) = [r for r in audit_rows(clean_database) if r["request_id"] == request_id]
        assert (row["outcome"], row["actor"]) == ("refused", actor)
        assert (row["detail"]["status"], row["detail"]["error"]) == (status, error)

    hostile = [r for r in audit_rows(clean_database) if r["action"] == "get_user"][-1]
    assert hostile["target_id"] == "\ufffd"
    assert hostile["detail"]["query"] == {"x": "\ufffd", "y": "\ufffd" * 3}
    assert ledger_snapshot(clean_database) == before  # no money moved, no SMS queued
    stored = str(audit_rows(clean_database))
    assert token not in stored and wrong not in stored


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


def test_a_hostile_query_is_recorded_as_text_postgresql_can_keep(http, clean_database, token):
    response = http.get("/ledger/check?a=%00&b=%ff", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    (row,) = audit_rows(clean_database)
    assert (row["outcome"], row["detail"]["query"]) == ("done", {"a": "\ufffd", "b": "\ufffd"})


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
    kept = httpx.get(base + "/health/live", headers={"X-Request-ID": "lb-7f3a2c9e:01"})
    assert kept.headers["x-request-id"] == "lb-7f3a2c9e:01"
    for insane in ("short", "a b c d e f g h", "x" * 129, "<script>alert(1)</script>"):
        replaced = httpx.get(base + "/health/live", headers={"X-Request-ID": insane})
        assert replaced.headers["x-request-id"] != insane
        assert len(replaced.headers["x-request-id"]) == 32
    first, second = httpx.get(base + "/health/live"), httpx.get(base + "/health/live")
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    refused = httpx.get(base + ADMIN + "/ledger/check")
    assert refused.status_code == 401 and len(refused.headers["x-request-id"]) == 32


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
