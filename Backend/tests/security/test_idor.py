"""Cross-user access (IDOR) across every /api/v1 route: Jane's token never reads or
changes Amina's deposits, withdrawals, contributions, pledges, campaigns or wallet.

Every route is classified in ROUTES, read from the app itself: a route added later
fails test_every_api_route_is_classified_for_idor until it has its line. Kinds:
- private: takes the id of one user's resource. Another user gets the very answer an
  id that does not exist gets (404 `not_found`): whether it exists is not theirs to know.
- organiser: acts on a campaign. Campaigns are public (anyone signed in reads them, a
  code names them), so another user's attempt is refused as such: 403 `not_organiser`.
- caller: acts on or reads the caller's own data only; its body names no user, and a
  body that tries (`user_id`, `phone`, `from`...) is refused (422, extra fields forbidden).
- public: readable by anyone signed in, by design; it shows no phone, and no name of
  an anonymous contributor.
- sign_in: no bearer token; identity is the SMS code, the PIN or the refresh token.
- merchant: signed with a merchant's API key (PayTrace-Signature), never a user's
  token: Jane's bearer token gets 401 `invalid_signature` and nothing of anyone's.
After every attempt, every row of the watched tables is what it was: nothing moved.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from app.api.v1.harambee_views import encode_cursor as harambee_cursor
from tests.security.idor_world import (
    AMINA,
    AMINAS_KEYS,
    DEPOSIT,
    JANE,
    KITO,
    PIN,
    TILL,
    World,
    amina_leg_ids,
    amina_only_references,
    build_world,
    contribution_body,
)
from tests.support.mpesa import mpesa_rig, rows
from tests.support.routes import http_routes

API, ADMIN = "/api/v1", "/api/v1/admin"
# Ids that exist nowhere, of the same shape as Amina's.
MISSING = {"deposit": "ZZZZZZZZZZ", "withdrawal": "ZZZZZZZZZZ", "campaign": 987654,
           "contribution": 987654, "pledge": 987654, "schedule": 987654,
           "bill": "ZZZZZZZZZZ", "worker": 987654, "run": 987654}  # fmt: skip


@dataclass(frozen=True)
class Probe:
    kind: str  # private | organiser | caller | public | sign_in | merchant
    check: Callable[[World], None]
    last: bool = False  # changes the caller's own state: runs after the snapshot check


def private(method: str, path: str, body: dict | None = None) -> Probe:
    def check(w: World) -> None:
        theirs = w.as_jane(method, path.format(**w.ids), json=body)
        nothing = w.as_jane(method, path.format(**{**w.ids, **MISSING}), json=body)
        assert theirs.status_code == 404, theirs.text
        assert theirs.json() == nothing.json(), (theirs.text, nothing.text)

    return Probe("private", check)


def private_keyed(method: str, path: str, body: dict | None = None) -> Probe:
    """private, for a route that also needs an Idempotency-Key (Jane's own key)."""

    def check(w: World) -> None:
        key = {"Idempotency-Key": "jane-probes"}
        theirs = w.as_jane(method, path.format(**w.ids), json=body, headers=key)
        nothing = w.as_jane(method, path.format(**{**w.ids, **MISSING}), json=body, headers=key)
        assert theirs.status_code == 404, theirs.text
        assert theirs.json() == nothing.json(), (theirs.text, nothing.text)

    return Probe("private", check)


def organiser(method: str, path: str, body: dict | None = None) -> Probe:
    def check(w: World) -> None:
        response = w.as_jane(method, path.format(**w.ids), json=body)
        assert response.status_code == 403, response.text
        assert response.json()["error"] == "not_organiser"

    return Probe("organiser", check)


def refuses_a_user_in_the_body(method: str, path: str, body: dict) -> Probe:
    """A caller route: naming another user in the body is refused, nothing else read."""

    def check(w: World) -> None:
        for name, value in (("user_id", w.ids["amina_id"]), ("phone", AMINA), ("from", AMINA)):
            response = w.as_jane(method, path, json={**body, name: value})
            assert response.status_code == 422, (name, response.text)
            assert "Amina" not in response.text

    return Probe("caller", check)


def caller(check: Callable[[World], None], last: bool = False) -> Probe:
    return Probe("caller", check, last)


def public(path: str, check: Callable[[World, dict], None]) -> Probe:
    def run(w: World) -> None:
        response = w.as_jane("GET", path.format(**w.ids))
        assert response.status_code == 200, response.text
        assert AMINA not in response.text and AMINA[4:] not in response.text
        assert KITO not in response.text
        check(w, response.json())

    return Probe("public", run)


def sign_in(path: str, body: dict) -> Probe:
    def check(w: World) -> None:
        response = w.pwa.http.post(path, json={**body, "user_id": w.ids["amina_id"]})
        assert response.status_code == 422, response.text

    return Probe("sign_in", check)


def merchant(method: str, path: str) -> Probe:
    def check(w: World) -> None:
        response = w.as_jane(method, path)
        assert response.status_code == 401, response.text
        assert response.json()["error"] == "invalid_signature"
        assert JANE not in response.text and AMINA not in response.text

    return Probe("merchant", check)


# ---- the caller's own data -------------------------------------------------------------


def jane_is_herself(w: World) -> None:
    me = w.as_jane("GET", "/me").json()
    assert (me["phone"], me["full_name"]) == (JANE, "Jane Wanjiku")


def janes_balance(w: World) -> int:
    return w.as_jane("GET", "/wallet").json()["balance"]


def wallet_is_janes(w: World) -> None:
    (balance,) = rows(
        w.database, "SELECT balance FROM ledger_accounts WHERE user_id = %(u)s", u=w.ids["jane_id"]
    )[0]
    assert janes_balance(w) == balance != w.as_amina("GET", "/wallet").json()["balance"]


def history_is_janes(w: World) -> None:
    hers = amina_only_references(w)
    assert len(hers) >= 6  # cash-in, deposit, withdrawal, transfer, contribution, till payment
    cursors = [None] + [harambee_cursor("l", leg + 1) for leg in amina_leg_ids(w)]
    for cursor in cursors:
        params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        page = w.as_jane("GET", "/wallet/transactions", params=params)
        assert page.status_code == 200, page.text
        assert not {item["id"] for item in page.json()["items"]} & hers


def quote_is_janes(w: World) -> None:
    # The recipient's registered name is what USSD's confirmation screen shows too.
    quote = w.as_jane("GET", "/transfers/quote", params={"to": AMINA, "amount": 1_000}).json()
    assert quote["recipient_name"] == "Amina Yusuf"
    assert quote["balance"] == janes_balance(w)


def withdrawal_quote_is_janes(w: World) -> None:
    quote = w.as_jane("GET", "/withdrawals/quote", params={"amount": 10_000}).json()
    assert quote["balance"] == janes_balance(w)


def payment_quote_is_janes(w: World) -> None:
    quote = w.as_jane("GET", "/payments/quote", params={"till": TILL, "amount": 1_000})
    assert quote.status_code == 200, quote.text
    assert quote.json()["merchant_name"] == "MAMA MBOGA"
    assert quote.json()["balance"] == janes_balance(w)


def billers_name_no_one(w: World) -> None:
    response = w.as_jane("GET", "/bills/billers")
    assert response.status_code == 200 and AMINA[4:] not in response.text


def bill_quote_is_janes(w: World) -> None:
    quote = w.as_jane("POST", "/bills/quote", json={**AIRTIME, "account": AMINA})
    assert quote.status_code == 200, quote.text
    assert quote.json()["balance"] == janes_balance(w)


def bill_payments_are_janes(w: World) -> None:
    for params in ({}, {"cursor": harambee_cursor("bills", 10**6)}):
        page = w.as_jane("GET", "/bills/payments", params=params)
        assert page.status_code == 200, page.text
        assert page.json()["items"] == []


def pledges_are_janes(w: World) -> None:
    campaign = w.ids["campaign"]
    for params in ({}, {"campaign_id": campaign}, {"cursor": harambee_cursor("p", 10**6)}):
        page = w.as_jane("GET", "/pledges", params=params)
        assert page.status_code == 200, page.text
        assert {p["id"] for p in page.json()["items"]} <= {w.ids["janes_pledge"]}
    listed = w.as_jane("GET", "/pledges", params={"campaign_id": campaign}).json()["items"]
    assert [p["id"] for p in listed] == [w.ids["janes_pledge"]]


def schedules_are_janes(w: World) -> None:
    for params in ({}, {"live": "true"}):
        page = w.as_jane("GET", "/schedules", params=params)
        assert page.status_code == 200, page.text
        assert page.json()["schedules"] == []


def campaigns_mine_are_janes(w: World) -> None:
    mine = w.as_jane("GET", "/campaigns", params={"mine": "true"}).json()["items"]
    assert mine == []
    everyone = w.as_jane("GET", "/campaigns").json()["items"]
    (hers,) = [c for c in everyone if c["id"] == w.ids["campaign"]]
    assert hers["is_organiser"] is False and AMINA not in str(everyone)


def wage_schedules_are_janes(w: World) -> None:
    """Amina pays Kito on a schedule; Jane's list of wage schedules is her own (empty)."""
    page = w.as_jane("GET", "/employer/schedules")
    assert page.status_code == 200, page.text
    assert page.json()["schedules"] == []


def not_an_employer(method: str, path: str, body: dict | None = None) -> Callable[[World], None]:
    """Jane employs no one: an employer's listing is refused, never Amina's shown."""

    def check(w: World) -> None:
        response = w.as_jane(method, path, json=body)
        assert response.status_code == 404, response.text
        assert response.json()["error"] == "not_an_employer"
        assert KITO not in response.text and "Kito" not in response.text

    return check


def adding_a_worker_names_no_user(w: World) -> None:
    body = {"phone": KITO, "display_name": "Kito", "gross_pay": 100, "frequency": "daily",
            "deductions": []}  # fmt: skip
    response = w.as_jane("POST", "/employer/workers", json={**body, "user_id": 1})
    assert response.status_code == 422, response.text
    not_an_employer("POST", "/employer/workers", body)(w)


def payslips_are_janes(w: World) -> None:
    response = w.as_jane("GET", "/payslips")
    assert (response.status_code, response.json()) == (200, {"payslips": []}), response.text


def becoming_an_employer_shows_no_one_elses_workers(w: World) -> None:
    assert w.as_jane("POST", "/employer").json() == {"employer": True, "created": True}
    assert w.as_jane("GET", "/employer/workers").json() == {"workers": []}
    assert w.as_jane("GET", "/employer/pay-runs").json() == {"pay_runs": []}
    report = w.as_jane("GET", "/employer/reports/2025-11")
    assert report.status_code == 200 and KITO not in report.text


def signing_out_ends_only_my_session(w: World) -> None:
    assert w.as_jane("POST", "/auth/logout").status_code == 200
    assert w.as_jane("GET", "/me").status_code == 401
    assert w.as_amina("GET", "/me").json()["phone"] == AMINA


def another_users_idempotency_key_is_my_own_request(w: World) -> None:
    """Keys are scoped to their user: Amina's key and body from Jane make Jane's own
    deposit and contribution, never a replay of Amina's."""
    key = {"Idempotency-Key": AMINAS_KEYS["deposit"]}
    deposit = w.as_jane("POST", "/deposits", json=DEPOSIT, headers=key)
    assert deposit.status_code == 202 and "Idempotent-Replayed" not in deposit.headers
    assert deposit.json()["id"] != w.ids["deposit"] and deposit.json()["phone"] == JANE
    key = {"Idempotency-Key": AMINAS_KEYS["contribution"]}
    body = contribution_body(w.ids["campaign"])
    contribution = w.as_jane("POST", "/contributions", json=body, headers=key)
    assert contribution.status_code == 201 and "Idempotent-Replayed" not in contribution.headers
    assert contribution.json()["id"] != w.ids["contribution"]


def forged_tokens_are_refused(w: World) -> None:
    """Jane's token with Amina's id in it: the signature no longer holds (nor with none)."""
    header, payload, signature = w.jane["access_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = str(w.ids["amina_id"])
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    none = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').decode().rstrip("=")
    for token in (f"{header}.{forged}.{signature}", f"{none}.{forged}."):
        response = w.pwa.http.get("/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401 and AMINA not in response.text, response.text


def campaign_is_public(w: World, campaign: dict) -> None:
    assert campaign["is_organiser"] is False and campaign["organiser_name"] == "Amina Yusuf"


def listing_hides_the_anonymous(w: World, page: dict) -> None:
    (item,) = page["items"]
    assert item["is_anonymous"] and item["contributor_name"] is None


def stats_are_aggregates(w: World, stats: dict) -> None:
    assert "Amina" not in str(stats)


PAYMENT = {"till": TILL, "amount": 100, "pin": PIN}
AIRTIME = {"biller": "airtime_safaricom", "account": JANE, "amount": 1_000}
EVENT = "evt_" + "0" * 24  # a merchant event id's shape
NEW_CAMPAIGN = {"title": "Jane's harambee", "target_amount": 100_000}
DUE = "2099-01-01"
SCHEDULE = {"to": KITO, "amount": 100, "frequency": "monthly", "day": 1, "time": "09:00",
            "start": DUE, "pin": PIN}  # fmt: skip

# One line per /api/v1 route (the admin API has its own suite: test_audit_trail.py).
# fmt: off
ROUTES: dict[tuple[str, str], Probe] = {
    ("POST", "/auth/otp"): sign_in("/auth/otp", {"phone": AMINA, "purpose": "login"}),
    ("POST", "/auth/token"): sign_in("/auth/token", {"phone": AMINA, "otp": "123456", "pin": PIN}),
    ("POST", "/auth/pin-reset"): sign_in("/auth/pin-reset", {"phone": AMINA, "otp": "123456",
                                                             "new_pin": "5937"}),
    ("POST", "/auth/refresh"): sign_in("/auth/refresh", {"refresh_token": "x" * 40}),
    ("POST", "/auth/logout"): caller(signing_out_ends_only_my_session, last=True),
    ("POST", "/workers/register"): sign_in("/workers/register", {"phone": AMINA, "otp": "123456",
                                           "full_name": "X", "pin": PIN, "accept_terms": True}),
    ("GET", "/me"): caller(jane_is_herself),
    ("GET", "/merchant/me"): merchant("GET", "/merchant/me"),
    ("POST", "/merchant/orders"): merchant("POST", "/merchant/orders"),
    ("GET", "/merchant/orders"): merchant("GET", "/merchant/orders"),
    ("GET", "/merchant/payments"): merchant("GET", "/merchant/payments"),
    ("POST", "/merchant/refunds"): merchant("POST", "/merchant/refunds"),
    ("GET", "/merchant/refunds/{refund_id}"): merchant("GET", "/merchant/refunds/re_0"),
    ("POST", "/merchant/payouts"): merchant("POST", "/merchant/payouts"),
    ("GET", "/merchant/payouts"): merchant("GET", "/merchant/payouts"),
    ("GET", "/merchant/payouts/{payout_id}"): merchant("GET", "/merchant/payouts/po_0"),
    ("GET", "/merchant/orders/{order_id}"): merchant("GET", "/merchant/orders/1"),
    ("POST", "/merchant/orders/{order_id}/cancel"): merchant("POST", "/merchant/orders/1/cancel"),
    ("POST", "/merchant/orders/{order_id}/requests"): merchant(
        "POST", "/merchant/orders/1/requests"),
    ("GET", "/merchant/orders/{order_id}/requests"): merchant(
        "GET", "/merchant/orders/1/requests"),
    ("POST", "/merchant/orders/{order_id}/mpesa-push"): merchant(
        "POST", "/merchant/orders/1/mpesa-push"),
    ("POST", "/merchant/webhook-endpoints"): merchant("POST", "/merchant/webhook-endpoints"),
    ("GET", "/merchant/webhook-endpoints"): merchant("GET", "/merchant/webhook-endpoints"),
    ("POST", "/merchant/webhook-endpoints/{endpoint_id}/disable"): merchant(
        "POST", "/merchant/webhook-endpoints/1/disable"),
    ("POST", "/merchant/webhook-endpoints/{endpoint_id}/enable"): merchant(
        "POST", "/merchant/webhook-endpoints/1/enable"),
    ("POST", "/merchant/webhook-endpoints/{endpoint_id}/ping"): merchant(
        "POST", "/merchant/webhook-endpoints/1/ping"),
    ("GET", "/merchant/events"): merchant("GET", "/merchant/events"),
    ("POST", "/merchant/events/{event_id}/acknowledge"): merchant(
        "POST", f"/merchant/events/{EVENT}/acknowledge"),
    ("GET", "/merchant/events/{event_id}/deliveries"): merchant(
        "GET", f"/merchant/events/{EVENT}/deliveries"),
    ("POST", "/merchant/events/{event_id}/redeliver"): merchant(
        "POST", f"/merchant/events/{EVENT}/redeliver"),
    ("PATCH", "/me"): refuses_a_user_in_the_body("PATCH", "/me", {"language": "sw"}),
    ("POST", "/me/pin"): refuses_a_user_in_the_body("POST", "/me/pin",
                                                    {"old_pin": PIN, "new_pin": "5937"}),
    ("GET", "/wallet"): caller(wallet_is_janes),
    ("GET", "/wallet/transactions"): caller(history_is_janes),
    ("GET", "/transfers/quote"): caller(quote_is_janes),
    ("POST", "/transfers"): refuses_a_user_in_the_body("POST", "/transfers",
                                                       {"to": JANE, "amount": 100, "pin": PIN}),
    ("POST", "/invitations"): refuses_a_user_in_the_body("POST", "/invitations",
                                                         {"phone": "+254711999999"}),
    ("POST", "/deposits"): refuses_a_user_in_the_body("POST", "/deposits", {"amount": 10_000}),
    ("GET", "/deposits/{deposit_id}"): private("GET", "/deposits/{deposit}"),
    ("GET", "/withdrawals/quote"): caller(withdrawal_quote_is_janes),
    ("GET", "/payments/quote"): caller(payment_quote_is_janes),
    ("POST", "/payments"): refuses_a_user_in_the_body("POST", "/payments", PAYMENT),
    ("POST", "/withdrawals"): refuses_a_user_in_the_body("POST", "/withdrawals",
                                                         {"amount": 10_000, "pin": PIN}),
    ("GET", "/withdrawals/{withdrawal_id}"): private("GET", "/withdrawals/{withdrawal}"),
    ("GET", "/bills/billers"): caller(billers_name_no_one),
    ("POST", "/bills/validate"): refuses_a_user_in_the_body("POST", "/bills/validate",
                                                            {"biller": "airtime_safaricom",
                                                             "account": JANE}),
    ("POST", "/bills/quote"): caller(bill_quote_is_janes),
    ("POST", "/bills/payments"): refuses_a_user_in_the_body("POST", "/bills/payments",
                                                            {**AIRTIME, "pin": PIN}),
    ("GET", "/bills/payments"): caller(bill_payments_are_janes),
    ("GET", "/bills/payments/{payment_id}"): private("GET", "/bills/payments/{bill}"),
    ("POST", "/campaigns"): refuses_a_user_in_the_body("POST", "/campaigns", NEW_CAMPAIGN),
    ("GET", "/campaigns"): caller(campaigns_mine_are_janes),
    ("GET", "/campaigns/{campaign_id}"): public("/campaigns/{campaign}", campaign_is_public),
    ("PATCH", "/campaigns/{campaign_id}"): organiser("PATCH", "/campaigns/{campaign}",
                                                     {"title": "Taken over"}),
    ("DELETE", "/campaigns/{campaign_id}"): organiser("DELETE", "/campaigns/{campaign}"),
    ("POST", "/campaigns/{campaign_id}/close"): organiser("POST", "/campaigns/{campaign}/close"),
    ("GET", "/campaigns/{campaign_id}/contributions"): public(
        "/campaigns/{campaign}/contributions", listing_hides_the_anonymous),
    ("GET", "/campaigns/{campaign_id}/stats"): public("/campaigns/{campaign}/stats",
                                                      stats_are_aggregates),
    ("POST", "/contributions"): refuses_a_user_in_the_body(
        "POST", "/contributions", {"campaign_id": 1, "amount": 100, "pin": PIN}),
    ("GET", "/contributions/{contribution_id}"): private("GET", "/contributions/{contribution}"),
    ("POST", "/pledges"): refuses_a_user_in_the_body(
        "POST", "/pledges", {"campaign_id": 1, "amount": 100, "due_date": DUE}),
    ("GET", "/pledges"): caller(pledges_are_janes),
    ("GET", "/pledges/{pledge_id}"): private("GET", "/pledges/{pledge}"),
    ("POST", "/pledges/{pledge_id}/payments"): private("POST", "/pledges/{pledge}/payments",
                                                       {"amount": 1_000, "pin": PIN}),
    ("POST", "/pledges/{pledge_id}/cancel"): private("POST", "/pledges/{pledge}/cancel"),
    ("POST", "/schedules"): refuses_a_user_in_the_body("POST", "/schedules", SCHEDULE),
    ("GET", "/schedules"): caller(schedules_are_janes),
    ("GET", "/schedules/{schedule_id}"): private("GET", "/schedules/{schedule}"),
    ("POST", "/schedules/{schedule_id}/pause"): private("POST", "/schedules/{schedule}/pause"),
    ("POST", "/schedules/{schedule_id}/resume"): private("POST", "/schedules/{schedule}/resume"),
    ("POST", "/schedules/{schedule_id}/stop"): private("POST", "/schedules/{schedule}/stop"),
    ("GET", "/employer/workers"): caller(not_an_employer("GET", "/employer/workers")),
    ("POST", "/employer/workers"): caller(adding_a_worker_names_no_user),
    ("DELETE", "/employer/workers/{worker_id}"): private("DELETE", "/employer/workers/{worker}"),
    ("PATCH", "/employer/workers/{worker_id}"): private(
        "PATCH", "/employer/workers/{worker}", {"gross_pay": 1}),
    ("POST", "/employer/pay-runs"): refuses_a_user_in_the_body(
        "POST", "/employer/pay-runs", {"pay_date": "2025-11-28"}),
    ("GET", "/employer/pay-runs"): caller(not_an_employer("GET", "/employer/pay-runs")),
    ("GET", "/employer/pay-runs/{run_id}"): private("GET", "/employer/pay-runs/{run}"),
    ("POST", "/employer/pay-runs/{run_id}/approve"): private_keyed(
        "POST", "/employer/pay-runs/{run}/approve", {"pin": PIN}),
    ("POST", "/employer/pay-runs/{run_id}/retry"): private_keyed(
        "POST", "/employer/pay-runs/{run}/retry"),
    ("POST", "/employer/workers/{worker_id}/schedule"): private_keyed(
        "POST", "/employer/workers/{worker}/schedule",
        {"day": 31, "start": "2099-01-01", "pin": PIN}),
    ("GET", "/employer/schedules"): caller(wage_schedules_are_janes),
    ("POST", "/employer/schedules/{schedule_id}/pause"): private(
        "POST", "/employer/schedules/{schedule}/pause"),
    ("POST", "/employer/schedules/{schedule_id}/resume"): private(
        "POST", "/employer/schedules/{schedule}/resume"),
    ("POST", "/employer/schedules/{schedule_id}/stop"): private(
        "POST", "/employer/schedules/{schedule}/stop"),
    ("GET", "/employer/reports/{month}"): caller(
        not_an_employer("GET", "/employer/reports/2025-11")),
    ("GET", "/payslips"): caller(payslips_are_janes),
    # After the employer routes above: Jane is no employer until this one (her own row).
    ("POST", "/employer"): caller(becoming_an_employer_shows_no_one_elses_workers),
}
# fmt: on


def api_routes() -> set[tuple[str, str]]:
    return {
        (route.method, route.path.removeprefix(API))
        for route in http_routes()
        if route.path.startswith(API + "/") and not route.path.startswith(ADMIN + "/")
    }


def test_every_api_route_is_classified_for_idor():
    missing = api_routes() - set(ROUTES)
    assert not missing, f"/api/v1 routes with no IDOR line in ROUTES: {sorted(missing)}"
    assert not set(ROUTES) - api_routes(), "ROUTES names a route that does not exist"


@pytest.fixture
def world(live_settings, database, tmp_path):
    with mpesa_rig(live_settings, database, tmp_path) as rig:
        built = build_world(rig)
        yield built
        built.pwa.close()


def test_no_user_reads_or_changes_another_users_resources(world):
    failures: dict[object, str] = {}

    def attempt(route: tuple[str, str], probe: Probe) -> None:
        try:
            probe.check(world)
        except AssertionError as exc:
            failures[route] = str(exc)[:500]

    before = world.snapshot()
    for route, probe in ROUTES.items():
        if not probe.last:
            attempt(route, probe)
    after = world.snapshot()
    changed = [table for table in before if before[table] != after[table]]
    if changed:
        failures["state"] = f"rows changed in {changed}"
    # These make Jane's own requests (and sign her out): after the comparison.
    attempt(("token", "forged"), caller(forged_tokens_are_refused))
    attempt(("Idempotency-Key", "Amina's"), caller(another_users_idempotency_key_is_my_own_request))
    for route, probe in ROUTES.items():
        if probe.last:
            attempt(route, probe)
    assert not failures, failures
