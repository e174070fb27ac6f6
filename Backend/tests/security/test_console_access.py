"""The operator console refuses whoever should be refused, over real HTTP: no session, an
ended session, a viewer acting, a form without its CSRF token, a wrong TOTP code; and
five wrong passwords slow the next tries. Every refusal leaves an audit row."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import redis as redis_sync
import redis.asyncio as aioredis

from app.config import Settings
from app.db.unit_of_work import UnitOfWork
from app.domain.records.console import Operator
from app.errors import SignInRequired
from app.services import operators
from app.services.console_sessions import SessionStore, Timeouts
from app.services.operators import SignInPolicy
from tests.conftest import LiveServer
from tests.integration.test_admin_api import wrong_pin
from tests.support.console import PASSWORD, csrf_of, make_operator, sign_in
from tests.support.routes import http_routes
from tests.support.wallets import phone_of, register, registration_secrets

ALICE = phone_of(1)
EVENT = "evt_" + "ab" * 12
# (route, a request to it): the route as served, with made-up ids where it takes them.
PAGES = (
    ("/console", "/console"),
    ("/console/dashboard.json", "/console/dashboard.json"),
    ("/console/hop_latency.json", "/console/hop_latency.json"),
    ("/console/users", "/console/users?q=0711000001"),
    ("/console/audit", "/console/audit"),
    ("/console/transactions", "/console/transactions?q=0711000001"),
    ("/console/transactions/{transaction_id}", "/console/transactions/1"),
    ("/console/transactions/{transaction_id}/reverse", "/console/transactions/1/reverse"),
    (
        "/console/transactions/{transaction_id}/reverse-bill",
        "/console/transactions/1/reverse-bill",
    ),
    ("/console/bills", "/console/bills"),
    ("/console/bills/{bill_id}/resolve", "/console/bills/K7QX2M9PLA/resolve"),
    ("/console/settlements", "/console/settlements"),
    ("/console/callbacks", "/console/callbacks?provider=mpesa"),
    ("/console/merchants", "/console/merchants"),
    ("/console/merchants/{merchant_id}", "/console/merchants/1"),
    ("/console/merchants/{merchant_id}/payments", "/console/merchants/1/payments?before=9"),
    ("/console/merchants/{merchant_id}/orders", "/console/merchants/1/orders"),
    ("/console/merchants/{merchant_id}/payouts", "/console/merchants/1/payouts"),
    ("/console/figures/{figure}", "/console/figures/movements?label=all"),
    ("/console/campaigns", "/console/campaigns?q=school&status=active"),
    ("/console/campaigns/{campaign_id}", "/console/campaigns/1"),
    ("/console/operators", "/console/operators"),
    ("/console/reconciliation", "/console/reconciliation"),
    ("/console/reconciliation.json", "/console/reconciliation.json"),
    ("/console/promotions", "/console/promotions?done=funded"),
    ("/console/lock-order", "/console/lock-order?done=marked"),
    ("/console/stellar", "/console/stellar"),
    ("/console/wages", "/console/wages?month=2025-11&q=0711000001"),
    ("/console/wages/{employer_user_id}", "/console/wages/1?month=2025-11"),
    ("/console/wages/{employer_user_id}/dues.csv", "/console/wages/1/dues.csv?month=2025-11"),
)
# Who may post each action: everyone signed in, operators, admins.
ACTIONS = (
    ("/console/users/{phone}/unlock", f"/console/users/{ALICE}/unlock", "operator"),
    ("/console/logout", "/console/logout", "viewer"),
    (
        "/console/transactions/{transaction_id}/reverse",
        "/console/transactions/1/reverse",
        "operator",
    ),
    (
        "/console/transactions/{transaction_id}/reverse-bill",
        "/console/transactions/1/reverse-bill",
        "operator",
    ),
    ("/console/bills/{bill_id}/resolve", "/console/bills/K7QX2M9PLA/resolve", "operator"),
    ("/console/settlements/{transaction_id}/retry", "/console/settlements/1/retry", "operator"),
    (
        "/console/merchants/{merchant_id}/events/{event_id}/redeliver",
        f"/console/merchants/1/events/{EVENT}/redeliver",
        "operator",
    ),
    ("/console/merchants/{merchant_id}/suspend", "/console/merchants/1/suspend", "admin"),
    ("/console/merchants/{merchant_id}/reactivate", "/console/merchants/1/reactivate", "admin"),
    ("/console/merchants", "/console/merchants", "admin"),
    ("/console/merchants/{merchant_id}/edit", "/console/merchants/1/edit", "admin"),
    ("/console/merchants/{merchant_id}/keys", "/console/merchants/1/keys", "admin"),
    (
        "/console/merchants/{merchant_id}/keys/{key_id}/revoke",
        "/console/merchants/1/keys/mk_live_0/revoke",
        "admin",
    ),
    ("/console/merchants/{merchant_id}/payouts", "/console/merchants/1/payouts", "operator"),
    ("/console/campaigns/{campaign_id}/refund", "/console/campaigns/1/refund", "operator"),
    ("/console/operators", "/console/operators", "admin"),
    ("/console/operators/{operator_id}/role", "/console/operators/1/role", "admin"),
    ("/console/operators/{operator_id}/disable", "/console/operators/1/disable", "admin"),
    ("/console/operators/{operator_id}/enable", "/console/operators/1/enable", "admin"),
    ("/console/operators/{operator_id}/totp", "/console/operators/1/totp", "admin"),
    ("/console/promotions/rules", "/console/promotions/rules", "admin"),
    ("/console/promotions/rules/{rule_id}/end", "/console/promotions/rules/1/end", "admin"),
    ("/console/promotions/fund", "/console/promotions/fund", "admin"),
    ("/console/promotions/referral-programme", "/console/promotions/referral-programme", "admin"),
    ("/console/lock-order", "/console/lock-order", "admin"),
)
# Pages that only show what an action would do, for those who may do it.
OPERATOR_PAGES = (
    "/console/transactions/1/reverse",
    "/console/transactions/1/reverse-bill",
    "/console/bills/K7QX2M9PLA/resolve",
)
# Pages only admins may read: what operators there are.
ADMIN_PAGES = ("/console/operators",)


@pytest.fixture
def alice_locked(live_settings: Settings, clean_database) -> int:
    """Alice, registered, with three wrong PINs behind her: her PIN is locked."""
    box, pin_hash = registration_secrets(live_settings)
    alice = register(clean_database, box, pin_hash, phone=ALICE, name="Alice Wanjiru")
    for n in range(3):
        with pytest.raises(Exception):  # noqa: B017 - WrongPin, then PinLocked
            wrong_pin(live_settings, clean_database, alice, f"w{n}")
    return alice


def _client(server: LiveServer) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=10, follow_redirects=False)


@pytest.fixture
def browser(live_server: LiveServer) -> Iterator[httpx.Client]:
    with _client(live_server) as client:
        yield client


def signed_in(server: LiveServer, settings: Settings, database, role: str) -> httpx.Client:
    who = make_operator(settings, database, role, f"{role}@paytrace.test")
    client = _client(server)
    answer = sign_in(client, who.email, PASSWORD, who.code())
    assert answer.status_code == 303, answer.text
    return client


def pin_failures(database, user_id: int) -> int:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT failed_attempts FROM user_credentials WHERE user_id = %(u)s", {"u": user_id}
        )
        return cur.fetchone()[0]


def audit_rows(database) -> list[tuple]:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT actor, action, outcome, detail->>'error' FROM admin_audit ORDER BY id")
        return cur.fetchall()


def test_every_console_route_is_covered_here():
    """A console route added later fails this until it is in PAGES or ACTIONS."""
    served = {
        (route.method, route.path)
        for route in http_routes()
        if route.path.startswith("/console") and route.path != "/console/login"
    }
    covered = {("GET", route) for route, _ in PAGES} | {("POST", route) for route, _, _ in ACTIONS}
    assert served - {("POST", "/console/login")} == covered


def test_every_console_route_refuses_a_request_without_a_session(browser, clean_database):
    for _, page in PAGES:
        answer = browser.get(page)
        assert answer.status_code == 303, page
        assert answer.headers["location"] == "/console/login"
    for _, action, _ in ACTIONS:
        answer = browser.post(action, data={"csrf": "x", "reason": "r"})
        assert answer.status_code == 401, action
        assert "sign_in_required" in answer.text
    rows = audit_rows(clean_database)
    assert len(rows) == len(PAGES) + len(ACTIONS)
    assert {(actor, outcome, error) for actor, _, outcome, error in rows} == {
        ("anonymous", "refused", "sign_in_required")
    }


def test_a_forged_session_cookie_is_no_session(browser):
    browser.cookies.set("pt_console", "made-up-token", path="/console")
    assert browser.get("/console").status_code == 303


def test_a_session_idle_past_its_timeout_has_ended(live_server, live_settings, clean_database):
    client = signed_in(live_server, live_settings, clean_database, "admin")
    assert client.get("/console").status_code == 200
    # The idle timeout is the session key's TTL, renewed by each request: let it lapse.
    r = redis_sync.Redis.from_url(live_settings.redis_url)
    for key in r.scan_iter(match=f"{live_settings.redis_prefix}console:session:*"):
        r.pexpire(key, 1)
    time.sleep(0.05)
    for _, page in PAGES:
        assert client.get(page).status_code == 303, page
    r.close()
    client.close()


def test_a_session_ends_at_its_absolute_timeout_however_busy(live_settings):
    asyncio.run(_busy_session_until_absolute_timeout(live_settings))


async def _busy_session_until_absolute_timeout(live_settings: Settings) -> None:
    client = aioredis.Redis.from_url(live_settings.redis_url, decode_responses=True)
    store = SessionStore(client, live_settings.redis_prefix + "s:", Timeouts(900, 3600))
    who = Operator(1, "a@b.c", "admin", "h", "ct", None, False, 0, None, None, datetime.now(UTC))
    token, _ = await store.open(who, now=1_000.0)
    # Busy all along (each request renews the idle timeout), but the absolute one holds.
    for now in (1_500.0, 2_000.0, 3_000.0, 4_500.0):
        assert (await store.resume(token, now)).operator_id == 1
    with pytest.raises(SignInRequired):
        await store.resume(token, 1_000.0 + 3600)
    with pytest.raises(SignInRequired):  # and it is gone, not merely refused once
        await store.resume(token, 1_100.0)
    await client.aclose()


def test_signing_out_ends_the_session(live_server, live_settings, clean_database):
    client = signed_in(live_server, live_settings, clean_database, "viewer")
    csrf = csrf_of(client.get("/console").text)
    cookie = client.cookies.get("pt_console")
    assert client.post("/console/logout", data={"csrf": csrf}).status_code == 303
    with _client(live_server) as replayer:  # the old cookie, kept by an attacker
        replayer.cookies.set("pt_console", cookie, path="/console")
        assert replayer.get("/console").status_code == 303
    client.close()


def test_a_viewer_cannot_unlock_a_pin(live_server, live_settings, clean_database, alice_locked):
    client = signed_in(live_server, live_settings, clean_database, "viewer")
    page = client.get("/console/users", params={"q": ALICE})
    assert page.status_code == 200 and "Unlock PIN" not in page.text  # not even offered
    answer = client.post(
        f"/console/users/{ALICE}/unlock", data={"csrf": csrf_of(page.text), "reason": "asked"}
    )
    assert answer.status_code == 403 and "role_refused" in answer.text
    assert pin_failures(clean_database, alice_locked) == 3
    refused = [row for row in audit_rows(clean_database) if row[1] == "console_unlock_pin"]
    assert refused == [("operator:1", "console_unlock_pin", "refused", "role_refused")]
    client.close()


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_no_one_posts_an_action_above_their_role(live_server, live_settings, clean_database, role):
    """With the session's own CSRF token, so the role is what refuses."""
    client = signed_in(live_server, live_settings, clean_database, role)
    csrf = csrf_of(client.get("/console").text)
    above = [action for _, action, needs in ACTIONS if not operators.allows(role, needs)]
    assert above  # every role below admin has some
    for action in above:
        answer = client.post(action, data={"csrf": csrf, "reason": "asked", "confirm": "yes"})
        assert answer.status_code == 403, action
        assert "role_refused" in answer.text, action
    for page in OPERATOR_PAGES:
        seen = client.get(page).status_code
        # An operator gets past the role to the service: no transaction 1 here.
        assert seen == (404 if operators.allows(role, "operator") else 403), page
    for page in ADMIN_PAGES:
        answer = client.get(page)
        assert answer.status_code == 403 and "role_refused" in answer.text, page
    refusals = [row for row in audit_rows(clean_database) if row[3] == "role_refused"]
    expected = len(above) + (role == "viewer") * len(OPERATOR_PAGES) + len(ADMIN_PAGES)
    assert len(refusals) == expected
    client.close()


def test_every_action_refuses_a_form_without_the_csrf_token(
    live_server, live_settings, clean_database
):
    client = signed_in(live_server, live_settings, clean_database, "admin")
    for _, action, _ in ACTIONS:
        for data in ({"reason": "r", "confirm": "yes"}, {"csrf": "forged", "reason": "r"}):
            answer = client.post(action, data=data)
            assert answer.status_code == 403, action
            assert "csrf_rejected" in answer.text, action
    assert client.get("/console").status_code == 200  # the forged sign-out did nothing
    client.close()


@pytest.mark.parametrize("csrf", [None, "", "not-this-sessions-token"])
def test_a_form_without_its_sessions_csrf_token_is_refused(
    live_server, live_settings, clean_database, alice_locked, csrf
):
    client = signed_in(live_server, live_settings, clean_database, "operator")
    data = {"reason": "caller verified"} | ({"csrf": csrf} if csrf is not None else {})
    answer = client.post(f"/console/users/{ALICE}/unlock", data=data)
    assert answer.status_code == 403 and "csrf_rejected" in answer.text
    assert pin_failures(clean_database, alice_locked) == 3
    # Sign-out is a form too: a forged one does not end the session.
    assert client.post("/console/logout", data={"csrf": "forged"}).status_code == 403
    assert client.get("/console").status_code == 200
    client.close()


def test_another_sessions_csrf_token_is_refused(
    live_server, live_settings, clean_database, alice_locked
):
    first = signed_in(live_server, live_settings, clean_database, "operator")
    other = make_operator(live_settings, clean_database, "operator", "other@paytrace.test")
    with _client(live_server) as second:
        assert sign_in(second, other.email, PASSWORD, other.code()).status_code == 303
        their_token = csrf_of(second.get("/console").text)
    answer = first.post(
        f"/console/users/{ALICE}/unlock", data={"csrf": their_token, "reason": "verified"}
    )
    assert answer.status_code == 403
    first.close()


def test_the_sign_in_form_needs_its_own_csrf_token(browser, live_settings, clean_database):
    who = make_operator(live_settings, clean_database, "admin", "ops@paytrace.test")
    answer = browser.post(
        "/console/login",
        data={"csrf": "guess", "email": who.email, "password": PASSWORD, "code": who.code()},
    )
    assert answer.status_code == 403 and "pt_console=" not in answer.headers.get("set-cookie", "")


def test_a_wrong_totp_code_is_refused(browser, live_settings, clean_database):
    who = make_operator(live_settings, clean_database, "admin", "ops@paytrace.test")
    right = who.code()
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    for code in (wrong, "", "12345", "abcdef"):
        answer = sign_in(browser, who.email, PASSWORD, code)
        assert answer.status_code == 401, code
        assert "wrong email, password or code" in answer.text
        assert "pt_console=" not in answer.headers.get("set-cookie", "")
    assert browser.get("/console").status_code == 303


def test_a_totp_code_is_good_once(browser, live_server, live_settings, clean_database):
    who = make_operator(live_settings, clean_database, "admin", "ops@paytrace.test")
    code = who.code()
    assert sign_in(browser, who.email, PASSWORD, code).status_code == 303
    with _client(live_server) as replayer:
        assert sign_in(replayer, who.email, PASSWORD, code).status_code == 401


def test_the_answer_does_not_say_which_part_was_wrong(browser, live_settings, clean_database):
    who = make_operator(live_settings, clean_database, "admin", "ops@paytrace.test")
    unknown = sign_in(browser, "nobody@paytrace.test", PASSWORD, who.code())
    wrong_password = sign_in(browser, who.email, "not the password", who.code())
    assert unknown.status_code == wrong_password.status_code == 401
    assert "wrong email, password or code" in unknown.text
    assert "wrong email, password or code" in wrong_password.text


def test_five_wrong_passwords_slow_the_next_tries(browser, live_settings, clean_database):
    who = make_operator(live_settings, clean_database, "admin", "ops@paytrace.test")
    for _ in range(5):
        assert sign_in(browser, who.email, "not the password", who.code()).status_code == 401
    # The sixth try waits, even with everything right: nothing is checked meanwhile.
    slowed = sign_in(browser, who.email, PASSWORD, who.code())
    assert slowed.status_code == 429
    assert 0 < int(slowed.headers["retry-after"]) <= SignInPolicy().first_wait_s
    assert browser.get("/console").status_code == 303
    # Once the wait is over (the last failure moved back in time), the right ones pass.
    with clean_database.connection() as conn, conn.cursor() as cur:
        cur.execute("UPDATE operators SET last_failed_at = last_failed_at - interval '31 seconds'")
        conn.commit()
    assert sign_in(browser, who.email, PASSWORD, who.code()).status_code == 303
    rows = [row for row in audit_rows(clean_database) if row[1] == "console_sign_in"]
    assert [row[3] for row in rows] == ["sign_in_refused"] * 5 + ["sign_in_slowed", None]


def test_each_failure_past_five_doubles_the_wait():
    policy = SignInPolicy()
    t0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)

    def after(failures: int) -> int:
        who = Operator(1, "a@b.c", "admin", "h", "ct", None, False, failures, t0, None, t0)
        return policy.wait_s(who, t0)

    assert [after(n) for n in (0, 4, 5, 6, 7, 10, 20)] == [0, 0, 30, 60, 120, 900, 900]
    who = Operator(1, "a@b.c", "admin", "h", "ct", None, False, 5, t0, None, t0)
    assert policy.wait_s(who, t0 + timedelta(seconds=30)) == 0


def test_a_disabled_operator_is_refused_and_their_session_ends(
    live_server, live_settings, clean_database
):
    client = signed_in(live_server, live_settings, clean_database, "operator")
    assert client.get("/console").status_code == 200
    assert operators.set_disabled(
        UnitOfWork(clean_database), email="operator@paytrace.test", disabled=True
    )
    assert client.get("/console").status_code == 303
    client.close()


def test_the_session_cookie_is_http_only_and_strict(browser, live_settings, clean_database):
    who = make_operator(live_settings, clean_database, "admin", "ops@paytrace.test")
    answer = sign_in(browser, who.email, PASSWORD, who.code())
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("pt_console="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    # Plain HTTP in tests and development; production's cookie is Secure.
    assert "Secure" not in cookie
    page = browser.get("/console")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"


def test_a_changed_role_applies_to_an_open_session(
    live_server, live_settings, clean_database, alice_locked
):
    client = signed_in(live_server, live_settings, clean_database, "operator")
    csrf = csrf_of(client.get("/console/users", params={"q": ALICE}).text)
    with clean_database.connection() as conn, conn.cursor() as cur:
        cur.execute("UPDATE operators SET role = 'viewer'")
        conn.commit()
    answer = client.post(f"/console/users/{ALICE}/unlock", data={"csrf": csrf, "reason": "ok"})
    assert answer.status_code == 403 and "role_refused" in answer.text
    assert pin_failures(clean_database, alice_locked) == 3
    client.close()
