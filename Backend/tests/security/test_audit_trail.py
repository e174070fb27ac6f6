"""The admin audit trail, route by route: every admin route leaves one row per request
(who, what, when, from where, how it ended), refused requests too, and never the token.
The trail's storage (append-only, written with the action) is test_audit_trail_store.py."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from tests.security import admin_audit_world
from tests.security.admin_audit_world import ADMIN, ALICE, CASH, audit_rows, fingerprint
from tests.support.merchants import onboard_body
from tests.support.routes import http_routes
from tests.support.wallets import ledger_snapshot, phone_of

# The world's fixtures, used here under their own names.
http, token, world = admin_audit_world.http, admin_audit_world.token, admin_audit_world.world


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
    headers: dict | None = None


USER, TRANSFER, CASH_IN, MERCHANT = (
    ("user", ALICE),
    ("transaction", "{transfer}"),
    ("transaction", "{cash_in}"),
    ("merchant", "{merchant}"),
)

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
    Case("GET", "/reconciliation/mpesa", 404),
    Case("GET", "/mpesa/held-deposits", 200),
    Case("GET", "/mpesa/held-order-payments", 200),
    Case("GET", "/settlements", 200, "/settlements?status=pending"),
    Case("GET", "/stellar/owed-back", 200, "/stellar/owed-back?limit=5"),
    Case("GET", "/bills/needing-operator", 200, "/bills/needing-operator?limit=5"),
    # No bill by that reference: refused, its row written like a read's.
    Case("POST", "/bills/{bill_id}/reverse", 404, "/bills/ZZZZZZZZZZ/reverse",
         ("bill", "ZZZZZZZZZZ"), {"refund_reference": "KPLC-RF-1", "reason": "wrong meter"}),
    Case("POST", "/bills/{bill_id}/resolve", 404, "/bills/ZZZZZZZZZZ/resolve",
         ("bill", "ZZZZZZZZZZ"), {"outcome": "failed", "reason": "never reached M-Pesa"}),
    # The world's settlement is pending (no network here): the retry answers its state
    # and changes nothing, so its row is written like a read's, not by an action's commit.
    Case("POST", "/settlements/{transaction_id}/retry", 200, "/settlements/{cash_in}/retry",
         CASH_IN),
    Case("GET", "/callbacks", 200, "/callbacks?provider=mpesa"),
    Case("GET", "/audit", 200, "/audit?outcome=refused"),
    Case("POST", "/merchants", 201, target=("till", "712345"), json=onboard_body("712345"),
         tx=True),
    Case("GET", "/merchants", 200, "/merchants?status=active"),
    Case("GET", "/merchants/{merchant_id}", 200, "/merchants/{merchant}", MERCHANT),
    Case("POST", "/merchants/{merchant_id}/keys", 201, "/merchants/{merchant}/keys", MERCHANT,
         tx=True),
    Case("POST", "/merchants/{merchant_id}/keys/{key_id}/revoke", 200,
         "/merchants/{merchant}/keys/{key}/revoke", ("key", "{key}"), tx=True),
    Case("PATCH", "/merchants/{merchant_id}", 200, "/merchants/{merchant}", MERCHANT,
         {"display_name": "MAMA MBOGA 2"}, tx=True),
    Case("POST", "/merchants/{merchant_id}/suspend", 200, "/merchants/{merchant}/suspend",
         MERCHANT, tx=True),
    # The world's merchant is active: reactivating it changes nothing, so its row is
    # written like a read's.
    Case("POST", "/merchants/{merchant_id}/reactivate", 200, "/merchants/{merchant}/reactivate",
         MERCHANT),
    # The world's merchant holds nothing: its payout is refused, the row written as a read's.
    Case("POST", "/merchants/{merchant_id}/payouts", 409, "/merchants/{merchant}/payouts",
         MERCHANT, {"amount": "all"}, headers={"Idempotency-Key": "audit-payout"}),
    Case("GET", "/lock-order", 200, "/lock-order?limit=5"),
    # The account's id names the row, written by the mark's commit.
    Case("PUT", "/lock-order", 200, target=("ledger_account", "{alice_wallet}"),
         json={"phone": ALICE, "locked_last": True}, tx=True),
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


# ---- each route's row ----------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[f"{c.method} {c.route}" for c in CASES])
def test_each_admin_route_writes_its_audit_row(http, clean_database, world, token, case):
    request_id = f"case-{uuid.uuid4().hex}"
    body = {k: v.format(**world) if isinstance(v, str) else v for k, v in (case.json or {}).items()}
    response = http.request(
        case.method,
        (case.url or case.route).format(**world),
        json=body or None,
        headers={
            "Authorization": f"Bearer {token}",
            "X-Request-ID": request_id,
            **(case.headers or {}),
        },
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


def test_a_hostile_query_is_recorded_as_text_postgresql_can_keep(http, clean_database, token):
    response = http.get("/ledger/check?a=%00&b=%ff", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    (row,) = audit_rows(clean_database)
    assert (row["outcome"], row["detail"]["query"]) == ("done", {"a": "\ufffd", "b": "\ufffd"})
