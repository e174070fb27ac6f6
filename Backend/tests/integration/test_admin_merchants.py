"""The admin API's merchants over real HTTP and PostgreSQL: onboarding, paging, keys."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import psycopg2
import pytest

from app.config import Settings
from app.domain.merchants import MAX_LIVE_KEYS
from app.services.custody import SecretBox
from tests.conftest import LiveServer
from tests.security.admin_audit_world import audit_rows, query
from tests.support.merchants import (
    ADMIN,
    execute,
    fresh_timestamp,
    key_row,
    keyed_merchant,
    onboard_body,
    signed_request,
)

ME = "/api/v1/merchant/me"


@pytest.fixture
def admin(live_server: LiveServer, live_settings: Settings) -> Iterator[httpx.Client]:
    assert live_settings.admin_token is not None
    token = live_settings.admin_token.get_secret_value()
    with httpx.Client(
        base_url=live_server.url + ADMIN, headers={"Authorization": f"Bearer {token}"}, timeout=10
    ) as client:
        yield client


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "detail"} and body["error"] == code, body


def onboard(admin: httpx.Client, till: str = "512345", **changes: object) -> dict:
    response = admin.post("/merchants", json=onboard_body(till, **changes))
    assert response.status_code == 201, response.text
    return response.json()


def merchant_count(database) -> int:
    return query(database, "SELECT count(*) FROM merchants")[0][0]


# ---- onboarding ------------------------------------------------------------------------


def test_onboarding_makes_a_merchant_with_a_ledger_account_of_its_own(admin, clean_database):
    merchant = onboard(admin)
    assert merchant["till_number"] == "512345" and merchant["display_name"] == "MAMA MBOGA"
    phones = (merchant["contact_phone"], merchant["payout_phone"])
    assert phones == ("+254711000101", "+254711000102")  # read as Kenyan, stored E.164
    assert (merchant["status"], merchant["balance"], merchant["currency"]) == ("active", 0, "KES")
    fee = (merchant["fee_bps"], merchant["fee_min_cents"], merchant["fee_max_cents"])
    assert fee == (50, 0, 20_000)
    assert merchant["language"] == "en"  # its SMS' language, unless onboarded otherwise
    (account,) = query(
        clean_database,
        "SELECT a.kind, a.code, a.balance, a.user_id FROM merchants m"
        " JOIN ledger_accounts a ON a.id = m.account_id WHERE m.id = %(id)s",
        {"id": merchant["id"]},
    )
    assert account == ("merchant", "merchant:512345", 0, None)


def test_the_same_onboarding_again_answers_the_same_merchant(admin, clean_database):
    first = onboard(admin)
    again = admin.post("/merchants", json=onboard_body())
    assert again.status_code == 200, again.text
    assert again.json() == first
    assert merchant_count(clean_database) == 1


def test_a_merchant_onboarded_in_kiswahili_replays_as_such_and_differs_from_english(
    admin, clean_database
):
    first = onboard(admin, language="sw")
    assert first["language"] == "sw"
    again = admin.post("/merchants", json=onboard_body(language="sw"))
    assert again.status_code == 200 and again.json() == first
    assert_error(admin.post("/merchants", json=onboard_body()), 409, "till_taken")


def test_a_till_another_merchant_has_is_409_till_taken(admin, clean_database):
    onboard(admin)
    other = admin.post("/merchants", json=onboard_body(display_name="DUKA LA KONA"))
    assert_error(other, 409, "till_taken")
    assert merchant_count(clean_database) == 1


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"till_number": "1234"}, "invalid_till"),
        ({"till_number": "12345678"}, "invalid_till"),
        ({"till_number": "012345"}, "invalid_till"),
        ({"till_number": "51234a"}, "invalid_till"),
        ({"display_name": "MAMA MBOGA GROCERIES LTD"}, "invalid_display_name"),
        ({"display_name": "Mama ☕"}, "invalid_display_name"),
        ({"legal_name": " "}, "invalid_legal_name"),
        ({"contact_phone": "12"}, "invalid_phone"),
        ({"payout_phone": "not a phone"}, "invalid_phone"),
        ({"payout_phone": "+447911123456"}, "invalid_phone"),  # M-Pesa pays Kenyan mobiles
        ({"payout_phone": "+254202222222"}, "invalid_phone"),  # a Nairobi landline
        ({"payout_schedule": "weekly"}, "invalid_payout_schedule"),
        ({"fee_bps": 10_001}, "invalid_fee"),
        ({"fee_min_cents": 500, "fee_max_cents": 100}, "invalid_fee"),
        ({"language": "fr"}, "invalid_language"),
        ({"language": 1}, "validation_failed"),
        ({"fee_bps": 1.5}, "validation_failed"),  # cents and basis points are integers
        ({"fee_max_cents": "100"}, "validation_failed"),
        ({"owner_user_id": 1}, "validation_failed"),
    ],
)
def test_bad_onboarding_input_is_422_and_makes_nothing(admin, clean_database, changes, code):
    assert_error(admin.post("/merchants", json=onboard_body(**changes)), 422, code)
    assert merchant_count(clean_database) == 0


def test_a_refused_onboarding_is_in_the_trail_whatever_its_till_holds(admin, clean_database):
    assert_error(admin.post("/merchants", json=onboard_body("\x0051234")), 422, "invalid_till")
    (row,) = audit_rows(clean_database)
    assert (row["action"], row["outcome"], row["target_id"]) == (
        "onboard_merchant",
        "refused",
        "\ufffd51234",
    )


def test_a_body_that_is_not_json_is_a_4xx_json_answer(admin, clean_database):
    response = admin.post(
        "/merchants", content=b"\xff\xfe{", headers={"Content-Type": "application/json"}
    )
    assert 400 <= response.status_code < 500, response.text
    assert set(response.json()) == {"error", "detail"}


# ---- reading ---------------------------------------------------------------------------


def test_merchants_are_listed_newest_first_a_page_at_a_time(admin, clean_database):
    made = [onboard(admin, till=f"5{n:05d}")["id"] for n in range(5)]
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = admin.get("/merchants", params=params).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == made[::-1]


def test_the_list_filters_by_status_and_refuses_a_foreign_cursor(admin, clean_database):
    ids = [onboard(admin, till=f"6{n:05d}")["id"] for n in range(2)]
    execute(clean_database, "UPDATE merchants SET status = 'suspended' WHERE id = %(id)s",
            {"id": ids[0]})  # fmt: skip
    suspended = admin.get("/merchants", params={"status": "suspended"}).json()
    assert [item["id"] for item in suspended["items"]] == [ids[0]]
    assert_error(admin.get("/merchants", params={"cursor": "YTox"}), 422, "invalid_cursor")
    assert_error(admin.get("/merchants", params={"status": "gone"}), 422, "validation_failed")


def test_a_merchant_is_read_with_its_keys_and_an_unknown_one_is_404(admin, clean_database):
    merchant = onboard(admin)
    key = admin.post(f"/merchants/{merchant['id']}/keys").json()
    found = admin.get(f"/merchants/{merchant['id']}").json()
    assert found["till_number"] == "512345"
    assert [k["key_id"] for k in found["keys"]] == [key["key_id"]]
    assert key["secret"] not in str(found) and "secret" not in found["keys"][0]
    assert_error(admin.get("/merchants/987654"), 404, "not_found")
    assert_error(admin.get("/merchants/0"), 422, "validation_failed")


# ---- keys ------------------------------------------------------------------------------


def test_a_key_secret_is_shown_once_and_stored_only_encrypted(admin, clean_database, live_settings):
    merchant = onboard(admin)
    response = admin.post(f"/merchants/{merchant['id']}/keys")
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    issued = response.json()
    assert issued["key_id"].startswith("mk_live_") and issued["secret"].startswith("mks_")
    assert issued["revoked_at"] is None and issued["merchant_id"] == merchant["id"]

    row = key_row(clean_database, issued["key_id"])
    assert issued["secret"] not in str(row)  # not in the clear anywhere in the row
    assert SecretBox.from_settings(live_settings).decrypt(row["secret_ct"]) == issued["secret"]
    everything = str(query(clean_database, "SELECT to_jsonb(a) FROM admin_audit a"))
    assert issued["secret"] not in everything and issued["key_id"] in everything


def test_a_key_past_the_live_cap_is_409_too_many_keys_until_one_is_revoked(admin, clean_database):
    merchant = onboard(admin)
    url = f"/merchants/{merchant['id']}/keys"
    issued = [admin.post(url).json() for _ in range(MAX_LIVE_KEYS)]  # two: one in use, one new
    assert_error(admin.post(url), 409, "too_many_keys")
    assert query(clean_database, "SELECT count(*) FROM merchant_api_keys") == [(MAX_LIVE_KEYS,)]

    revoked = admin.post(f"{url}/{issued[0]['key_id']}/revoke")
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"] is not None
    another = admin.post(url)
    assert another.status_code == 201, another.text
    live = [k["key_id"] for k in admin.get(f"/merchants/{merchant['id']}").json()["keys"]
            if k["revoked_at"] is None]  # fmt: skip
    assert live == [key["key_id"] for key in issued[1:]] + [another.json()["key_id"]]


def test_revoking_again_changes_nothing_and_another_merchants_key_is_404(admin, clean_database):
    mine, theirs = onboard(admin, "512345"), onboard(admin, "712345")
    key = admin.post(f"/merchants/{mine['id']}/keys").json()
    once = admin.post(f"/merchants/{mine['id']}/keys/{key['key_id']}/revoke").json()
    twice = admin.post(f"/merchants/{mine['id']}/keys/{key['key_id']}/revoke").json()
    assert once["revoked_at"] == twice["revoked_at"]
    elsewhere = admin.post(f"/merchants/{theirs['id']}/keys/{key['key_id']}/revoke")
    assert_error(elsewhere, 404, "not_found")
    assert_error(admin.post("/merchants/987654/keys"), 404, "not_found")


def test_the_database_itself_refuses_a_third_live_key_and_an_unrevoked_key(admin, clean_database):
    merchant = onboard(admin)
    url = f"/merchants/{merchant['id']}/keys"
    first = admin.post(url).json()
    admin.post(url)
    with pytest.raises(psycopg2.errors.CheckViolation, match="at most two live"):
        execute(
            clean_database,
            "INSERT INTO merchant_api_keys (key_id, merchant_id, secret_ct)"
            " VALUES ('mk_live_' || repeat('f', 24), %(id)s, 'x')",
            {"id": merchant["id"]},
        )
    admin.post(f"{url}/{first['key_id']}/revoke")
    with pytest.raises(psycopg2.errors.CheckViolation, match="stays revoked"):
        execute(
            clean_database,
            "UPDATE merchant_api_keys SET revoked_at = NULL WHERE key_id = %(k)s",
            {"k": first["key_id"]},
        )


def test_each_merchant_action_is_audited_with_its_target(admin, clean_database):
    merchant = onboard(admin)
    key = admin.post(f"/merchants/{merchant['id']}/keys").json()
    admin.post(f"/merchants/{merchant['id']}/keys/{key['key_id']}/revoke")
    rows = [(r["action"], r["target_kind"], r["target_id"], r["outcome"])
            for r in audit_rows(clean_database)]  # fmt: skip
    assert rows == [
        ("onboard_merchant", "till", "512345", "done"),
        ("issue_merchant_key", "merchant", str(merchant["id"]), "done"),
        ("revoke_merchant_key", "key", key["key_id"], "done"),
    ]


# ---- editing, suspending, reactivating ---------------------------------------------------


def test_an_edit_changes_only_the_fields_sent_each_checked_as_at_onboarding(admin, clean_database):
    merchant = onboard(admin)
    path = f"/merchants/{merchant['id']}"
    edited = admin.patch(path, json={"display_name": "MAMA MBOGA 2", "contact_phone": "0711000199"})
    assert edited.status_code == 200, edited.text
    after = edited.json()
    assert (after["display_name"], after["contact_phone"]) == ("MAMA MBOGA 2", "+254711000199")
    unchanged = {k: v for k, v in after.items() if k not in ("display_name", "contact_phone")}
    assert unchanged == {k: v for k, v in merchant.items() if k in unchanged}
    # A fee sent in part keeps the rest of the rule; the whole rule is checked.
    fee = admin.patch(path, json={"fee_bps": 120}).json()
    assert (fee["fee_bps"], fee["fee_min_cents"], fee["fee_max_cents"]) == (120, 0, 20_000)
    assert_error(admin.patch(path, json={"fee_min_cents": 30_000}), 422, "invalid_fee")
    assert_error(admin.patch(path, json={"display_name": "Mama\nMboga"}), 422,
                 "invalid_display_name")  # fmt: skip
    assert_error(admin.patch(path, json={"payout_phone": "12"}), 422, "invalid_phone")
    assert_error(admin.patch(path, json={"language": "fr"}), 422, "invalid_language")
    assert_error(admin.patch(path, json={}), 422, "nothing_to_change")
    # The till is the merchant's key: it is not a field of an edit.
    assert_error(admin.patch(path, json={"till_number": "612345"}), 422, "validation_failed")
    assert_error(admin.patch("/merchants/999999", json={"fee_bps": 1}), 404, "not_found")
    # What the refused edits left: the last accepted state.
    assert admin.get(path).json()["fee_bps"] == 120


def test_a_daily_payouts_minimum_and_threshold_are_set_checked_and_shown_to_the_merchant(
    admin, clean_database, live_server, live_settings
):
    keyed = keyed_merchant(clean_database, live_settings)
    path = f"/merchants/{keyed.merchant_id}"
    assert admin.get(path).json()["payout_keep_cents"] == 0  # by default, nothing kept
    edited = admin.patch(path, json={"payout_keep_cents": 50_000})
    assert edited.status_code == 200, edited.text
    assert (edited.json()["payout_keep_cents"], edited.json()["payout_threshold_cents"]) == (
        50_000,
        0,
    )
    both = admin.patch(path, json={"payout_threshold_cents": 100_000, "fee_bps": 70}).json()
    assert (both["payout_keep_cents"], both["payout_threshold_cents"], both["fee_bps"]) == (
        50_000,
        100_000,
        70,
    )
    assert_error(admin.patch(path, json={"payout_keep_cents": -1}), 422, "invalid_payout_keep")
    assert_error(
        admin.patch(path, json={"payout_threshold_cents": 10**12 + 1}),
        422,
        "invalid_payout_threshold",
    )
    assert_error(admin.patch(path, json={"payout_keep_cents": "500"}), 422, "validation_failed")
    with httpx.Client(base_url=live_server.url, timeout=10) as http:
        shown = me(http, keyed).json()
    assert (shown["payout_keep_cents"], shown["payout_threshold_cents"]) == (50_000, 100_000)
    # Clearing the threshold is 0; the minimum stays as it was.
    cleared = admin.patch(path, json={"payout_threshold_cents": 0}).json()
    assert (cleared["payout_keep_cents"], cleared["payout_threshold_cents"]) == (50_000, 0)


def test_after_an_edit_the_original_onboarding_no_longer_replays(admin, clean_database):
    merchant = onboard(admin)
    admin.patch(f"/merchants/{merchant['id']}", json={"display_name": "DUKA LA MAMA"})
    assert_error(admin.post("/merchants", json=onboard_body()), 409, "till_taken")
    again = admin.post("/merchants", json=onboard_body(display_name="DUKA LA MAMA"))
    assert again.status_code == 200 and again.json()["id"] == merchant["id"]


def me(http: httpx.Client, keyed) -> httpx.Response:
    """GET /merchant/me signed afresh: the same request signed in the same second would be
    refused as a replay (by design)."""
    return signed_request(
        http, keyed, "GET", ME, timestamp=fresh_timestamp(keyed.key_id, "GET", ME)
    )


def test_a_suspended_merchant_signs_nothing_until_it_is_reactivated(
    admin, clean_database, live_server, live_settings
):
    keyed = keyed_merchant(clean_database, live_settings)
    path = f"/merchants/{keyed.merchant_id}"
    with httpx.Client(base_url=live_server.url, timeout=10) as http:
        assert me(http, keyed).status_code == 200
        suspended = admin.post(f"{path}/suspend", headers={"X-Audit-Reason": "fraud report"})
        assert suspended.status_code == 200, suspended.text
        assert (suspended.json()["changed"], suspended.json()["merchant"]["status"]) == (
            True, "suspended",
        )  # fmt: skip
        assert_error(me(http, keyed), 401, "invalid_signature")
        again = admin.post(f"{path}/suspend").json()
        assert (again["changed"], again["merchant"]["status"]) == (False, "suspended")
        back = admin.post(f"{path}/reactivate").json()
        assert (back["changed"], back["merchant"]["status"]) == (True, "active")
        assert me(http, keyed).status_code == 200
    assert_error(admin.post("/merchants/999999/suspend"), 404, "not_found")
    reasons = query(
        clean_database,
        "SELECT reason FROM admin_audit WHERE action = 'suspend_merchant' ORDER BY id",
    )
    assert reasons == [("fraud report",), (None,), (None,)]  # the suspension, again, 404
