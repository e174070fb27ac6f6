"""Harambee over the REST API, as the PWA uses it: campaigns, contributions, pledges,
closing and cancelling, with the same services, limits, PIN lock and SMS as USSD."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

import pytest

from app.domain.money import NAIROBI
from tests.support.wallets import check_ledger, fund, phone_of

WANJIRU, OTIENO, AKINYI = phone_of(1), phone_of(2), phone_of(3)
PIN = {WANJIRU: "4821", OTIENO: "5937", AKINYI: "7305"}
KES = 100


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "detail"} and body["error"] == code, body
    return body


def today() -> date:
    return datetime.now(NAIROBI).date()


@pytest.fixture
def people(pwa, database) -> dict[str, dict]:
    """Three signed-in users, each funded with KES 5,000."""
    tokens = {}
    for phone, name in ((WANJIRU, "Wanjiru Kamau"), (OTIENO, "Otieno Ouma"), (AKINYI, "Akinyi")):
        tokens[phone] = pwa.register(phone, name, PIN[phone], language="en")
        fund(database, phone, 5_000 * KES)
    return tokens


class Harambee:
    """The PWA's calls, with the caller's token."""

    def __init__(self, pwa, tokens: dict[str, dict]) -> None:
        self.pwa, self.tokens = pwa, tokens

    def headers(self, who: str, key: str | None = None) -> dict[str, str]:
        headers = self.pwa.bearer(self.tokens[who])
        if key is not None:
            headers["Idempotency-Key"] = key
        return headers

    def start(self, who: str = WANJIRU, **body):
        body = {"title": "School fees for Amani", "target_amount": 1_000 * KES, **body}
        return self.pwa.http.post("/campaigns", json=body, headers=self.headers(who))

    def contribute(self, who: str, campaign_id: int, amount: int, key: str | None = None, **more):
        body = {"campaign_id": campaign_id, "amount": amount, "pin": PIN[who], **more}
        headers = self.headers(who, key or str(uuid.uuid4()))
        return self.pwa.http.post("/contributions", json=body, headers=headers)

    def get(self, who: str, path: str, **params):
        return self.pwa.http.get(path, params=params, headers=self.headers(who))


@pytest.fixture
def api(pwa, people) -> Harambee:
    return Harambee(pwa, people)


def test_a_harambee_from_start_to_payout(api, pwa, database):
    started = api.start(description="Term 2", end_date=(today() + timedelta(days=30)).isoformat())
    assert started.status_code == 201, started.text
    campaign = started.json()
    assert campaign["status"] == "active" and campaign["current_amount"] == 0
    assert campaign["is_organiser"] and len(campaign["code"]) == 6

    paid = api.contribute(OTIENO, campaign["id"], 600 * KES, message="Tuko pamoja")
    assert paid.status_code == 201, paid.text
    receipt = paid.json()
    assert receipt["balance"] == 4_400 * KES and receipt["campaign_current_amount"] == 600 * KES
    hidden = api.contribute(AKINYI, campaign["id"], 500 * KES, is_anonymous=True)
    assert hidden.status_code == 201, hidden.text

    shown = api.get(OTIENO, f"/campaigns/{campaign['id']}").json()
    assert shown["status"] == "funded" and shown["current_amount"] == 1_100 * KES
    assert shown["progress_percent"] == 110 and not shown["is_organiser"]
    listed = api.get(OTIENO, f"/campaigns/{campaign['id']}/contributions").json()["items"]
    assert [(c["contributor_name"], c["amount"]) for c in listed] == [
        (None, 500 * KES),
        ("Otieno Ouma", 600 * KES),
    ]
    by_code = api.get(AKINYI, "/campaigns", code=campaign["code"]).json()["items"]
    assert [c["id"] for c in by_code] == [campaign["id"]]

    closed = pwa.http.post(f"/campaigns/{campaign['id']}/close", headers=api.headers(WANJIRU))
    assert closed.status_code == 200, closed.text
    assert closed.json()["payout"]["amount"] == 1_100 * KES
    wallet = pwa.http.get("/wallet", headers=api.headers(WANJIRU)).json()
    assert wallet["balance"] == 6_100 * KES
    history = pwa.http.get("/wallet/transactions", headers=api.headers(WANJIRU)).json()
    assert history["items"][0]["type"] == "campaign_payout"

    pwa.deliver_sms()
    assert any("reached 50% of its target" in t for t in pwa.inbox(WANJIRU))
    assert any("reached 100% of its target" in t for t in pwa.inbox(WANJIRU))
    assert any(f"to harambee {campaign['code']}" in t for t in pwa.inbox(OTIENO))
    assert check_ledger(database).sound


def test_a_contribution_retried_with_its_key_moves_money_once(api):
    campaign = api.start().json()
    first = api.contribute(OTIENO, campaign["id"], 100 * KES, key="retry-me")
    again = api.contribute(OTIENO, campaign["id"], 100 * KES, key="retry-me")
    assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    other = api.contribute(OTIENO, campaign["id"], 200 * KES, key="retry-me")
    assert_error(other, 409, "idempotency_key_reused")
    assert api.get(OTIENO, f"/campaigns/{campaign['id']}").json()["current_amount"] == 100 * KES


def test_money_out_needs_the_pin_and_respects_the_balance(api):
    campaign = api.start().json()
    body = {"campaign_id": campaign["id"], "amount": 100 * KES, "pin": "0000"}
    wrong = api.pwa.http.post("/contributions", json=body, headers=api.headers(OTIENO, "w"))
    assert_error(wrong, 401, "wrong_pin")
    too_much = api.contribute(OTIENO, campaign["id"], 5_001 * KES)
    assert_error(too_much, 422, "insufficient_funds")
    nowhere = api.contribute(OTIENO, 987654, 100 * KES)
    assert_error(nowhere, 404, "not_found")
    no_key = api.pwa.http.post(
        "/contributions",
        json={**body, "pin": PIN[OTIENO]},
        headers=api.headers(OTIENO),
    )
    assert_error(no_key, 422, "validation_failed")


def test_bad_input_is_refused_with_a_reason(api):
    assert_error(api.start(title="☃☃☃☃"), 422, "invalid_title")
    assert_error(api.start(target_amount=0), 422, "validation_failed")
    assert_error(api.start(end_date="2001-01-01"), 422, "invalid_end_date")
    assert_error(api.get(OTIENO, "/campaigns", cursor="bm9wZQ"), 422, "invalid_cursor")
    assert_error(api.get(OTIENO, f"/campaigns/{2**63}"), 422, "validation_failed")
    assert_error(api.get(OTIENO, "/campaigns", q="a\x00b"), 422, "validation_failed")


def test_only_the_organiser_changes_or_cancels(api, pwa):
    campaign = api.start().json()
    path = f"/campaigns/{campaign['id']}"
    stranger = pwa.http.patch(path, json={"title": "Mine now"}, headers=api.headers(OTIENO))
    assert_error(stranger, 403, "not_organiser")
    assert_error(pwa.http.delete(path, headers=api.headers(OTIENO)), 403, "not_organiser")
    assert_error(pwa.http.post(f"{path}/close", headers=api.headers(OTIENO)), 403, "not_organiser")
    nothing = pwa.http.patch(path, json={}, headers=api.headers(WANJIRU))
    assert_error(nothing, 422, "nothing_to_change")
    changed = pwa.http.patch(
        path, json={"target_amount": 2_000 * KES, "end_date": None}, headers=api.headers(WANJIRU)
    )
    assert changed.status_code == 200 and changed.json()["target_amount"] == 2_000 * KES


def test_cancelling_refunds_each_contributor_once_even_when_repeated(api, pwa, database):
    campaign = api.start().json()
    api.contribute(OTIENO, campaign["id"], 300 * KES)
    api.contribute(OTIENO, campaign["id"], 200 * KES)
    api.contribute(AKINYI, campaign["id"], 150 * KES)
    path = f"/campaigns/{campaign['id']}"
    cancelled = pwa.http.delete(path, headers=api.headers(WANJIRU))
    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert body["refunded_contributors"] == 2 and body["refunded_amount"] == 650 * KES
    assert body["campaign"]["status"] == "cancelled" and body["campaign"]["current_amount"] == 0
    again = pwa.http.delete(path, headers=api.headers(WANJIRU)).json()
    assert again["refunded_contributors"] == 0
    for phone in (OTIENO, AKINYI):
        assert pwa.http.get("/wallet", headers=api.headers(phone)).json()["balance"] == 5_000 * KES
    late = api.contribute(OTIENO, campaign["id"], 100 * KES)
    assert_error(late, 409, "campaign_not_open")
    assert_error(
        pwa.http.post(f"{path}/close", headers=api.headers(WANJIRU)), 409, "campaign_ended"
    )
    pwa.deliver_sms()
    refunds = [t for t in pwa.inbox(OTIENO) if "was cancelled" in t]
    assert len(refunds) == 1 and "KES 500 returned" in refunds[0]
    assert check_ledger(database).sound


def test_a_pledge_is_paid_in_two_parts_and_shows_in_the_stats(api, pwa):
    campaign = api.start().json()
    due = (today() + timedelta(days=14)).isoformat()
    made = pwa.http.post(
        "/pledges",
        json={"campaign_id": campaign["id"], "amount": 400 * KES, "due_date": due},
        headers=api.headers(AKINYI, "pledge-1"),
    )
    assert made.status_code == 201, made.text
    pledge = made.json()
    assert pledge["status"] == "pledged" and pledge["remaining_amount"] == 400 * KES
    pay = f"/pledges/{pledge['id']}/payments"
    part = pwa.http.post(
        pay, json={"amount": 150 * KES, "pin": PIN[AKINYI]}, headers=api.headers(AKINYI, "pp-1")
    )
    assert part.status_code == 201, part.text
    assert part.json()["pledge"]["status"] == "partially_paid"
    over = pwa.http.post(
        pay, json={"amount": 251 * KES, "pin": PIN[AKINYI]}, headers=api.headers(AKINYI, "pp-2")
    )
    assert_error(over, 422, "exceeds_pledge")
    rest = pwa.http.post(pay, json={"pin": PIN[AKINYI]}, headers=api.headers(AKINYI, "pp-3"))
    assert rest.status_code == 201, rest.text
    assert rest.json()["contribution"]["amount"] == 250 * KES
    assert rest.json()["pledge"]["status"] == "fulfilled"
    someone_else = pwa.http.post(
        pay, json={"pin": PIN[OTIENO]}, headers=api.headers(OTIENO, "pp-4")
    )
    assert_error(someone_else, 404, "not_found")
    mine = api.get(AKINYI, "/pledges", status="fulfilled").json()["items"]
    assert [p["id"] for p in mine] == [pledge["id"]]

    stats = api.get(OTIENO, f"/campaigns/{campaign['id']}/stats").json()
    assert stats["total_raised"] == 400 * KES and stats["contributors"] == 1
    assert stats["pledged_amount"] == 400 * KES and stats["pledge_paid_amount"] == 400 * KES
    assert stats["pledge_statuses"]["fulfilled"] == 1 and len(stats["daily"]) == 30
    assert stats["daily"][-1]["amount"] == 400 * KES


def test_lists_page_with_cursors(api):
    for n in range(5):
        assert api.start(title=f"Harambee number {n}").status_code == 201
    seen, cursor = [], None
    while True:
        params = {"limit": 2, "mine": "true"}
        if cursor:
            params["cursor"] = cursor
        page = api.get(WANJIRU, "/campaigns", **params).json()
        seen += [c["title"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"Harambee number {n}" for n in reversed(range(5))]
