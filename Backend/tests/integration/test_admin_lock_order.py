"""The admin API's lock order over real HTTP and PostgreSQL: mark a hot account locked
last by its owner (a wallet's phone, a merchant, a harambee's code), list the marked
ones, and every bad body a clear 4xx with nothing changed."""

from __future__ import annotations

import httpx
import pytest

from tests.integration import test_admin_merchants
from tests.integration.test_harambee_concurrency import open_campaign
from tests.security.admin_audit_world import audit_rows, query
from tests.support.merchants import ADMIN, onboard_body
from tests.support.wallets import phone_of, register, registration_secrets

# The admin API's client and error check, used here under their own names.
admin, assert_error = test_admin_merchants.admin, test_admin_merchants.assert_error


@pytest.fixture
def user(clean_database, settings) -> int:
    box, pin_hash = registration_secrets(settings)
    return register(clean_database, box, pin_hash, phone=phone_of(1))


def marked_ids(database) -> list[int]:
    return [r[0] for r in query(database, "SELECT id FROM ledger_accounts WHERE locked_last")]


def test_a_wallet_is_marked_by_its_owners_phone_listed_and_unmarked(admin, clean_database, user):
    [(wallet,)] = query(clean_database, f"SELECT id FROM ledger_accounts WHERE user_id = {user}")
    response = admin.put("/lock-order", json={"phone": "0" + phone_of(1)[4:], "locked_last": True})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "account": {
            "account_id": wallet,
            "kind": "wallet",
            "locked_last": True,
            "phone": phone_of(1),
            "merchant_id": None,
            "campaign_code": None,
        },
        "changed": True,
    }
    assert marked_ids(clean_database) == [wallet]
    again = admin.put("/lock-order", json={"phone": phone_of(1), "locked_last": True})
    assert again.json()["changed"] is False
    assert [i["account_id"] for i in admin.get("/lock-order").json()["items"]] == [wallet]

    audit = [r for r in audit_rows(clean_database) if r["action"] == "set_lock_order"]
    assert [(r["target_kind"], r["target_id"], r["outcome"]) for r in audit] == [
        ("ledger_account", str(wallet), "done"),
        ("ledger_account", str(wallet), "done"),
    ]
    assert audit[0]["detail"] == {
        "method": "PUT",
        "locked_last": True,
        "committed_with_action": True,
    }
    assert audit[1]["detail"] == {
        "method": "PUT",
        "locked_last": True,
        "changed": False,
        "status": 200,
    }

    off = admin.put("/lock-order", json={"phone": phone_of(1), "locked_last": False})
    assert off.json()["changed"] is True and marked_ids(clean_database) == []


def test_a_merchant_and_a_harambee_escrow_are_marked_by_their_own_ids(admin, clean_database, user):
    merchant = admin.post("/merchants", json=onboard_body("512345"))
    assert merchant.status_code == 201, merchant.text
    merchant_id = merchant.json()["id"]
    campaign_id = open_campaign(clean_database, user, target=100_000)
    [(code, escrow)] = query(
        clean_database, f"SELECT code, account_id FROM campaigns WHERE id = {campaign_id}"
    )

    by_merchant = admin.put("/lock-order", json={"merchant_id": merchant_id, "locked_last": True})
    by_code = admin.put("/lock-order", json={"campaign_code": code, "locked_last": True})
    assert by_merchant.status_code == 200 and by_code.status_code == 200
    assert by_merchant.json()["account"]["kind"] == "merchant"
    assert by_code.json()["account"] | {"account_id": 0} == {
        "account_id": 0,
        "kind": "campaign",
        "locked_last": True,
        "phone": None,
        "merchant_id": None,
        "campaign_code": code,
    }
    assert escrow in marked_ids(clean_database) and len(marked_ids(clean_database)) == 2


@pytest.mark.parametrize(
    "body",
    [
        {"locked_last": True},
        {"phone": phone_of(1), "merchant_id": 1, "locked_last": True},
        {"phone": phone_of(1)},
        {"phone": phone_of(1), "locked_last": "yes"},
        {"phone": phone_of(1), "locked_last": 1},
        {"merchant_id": 0, "locked_last": True},
        {"merchant_id": 2**63, "locked_last": True},
        {"campaign_code": "12345", "locked_last": True},
        {"phone": phone_of(1), "locked_last": True, "rank": 9},
        [],
    ],
)
def test_a_bad_body_is_a_422_and_changes_nothing(admin, clean_database, user, body):
    assert_error(admin.put("/lock-order", json=body), 422, "validation_failed")
    assert marked_ids(clean_database) == []


def test_a_bad_phone_is_a_422_and_an_owner_with_no_account_a_404(admin, clean_database, user):
    assert_error(
        admin.put("/lock-order", json={"phone": "not a phone", "locked_last": True}),
        422,
        "invalid_phone",
    )
    for body in (
        {"phone": phone_of(2), "locked_last": True},
        {"merchant_id": 5, "locked_last": True},
        {"campaign_code": "123456", "locked_last": True},
    ):
        assert_error(admin.put("/lock-order", json=body), 404, "not_found")
    assert marked_ids(clean_database) == []


def test_without_the_admin_token_nothing_is_marked(live_server, clean_database, user):
    response = httpx.put(
        live_server.url + ADMIN + "/lock-order", json={"phone": phone_of(1), "locked_last": True}
    )
    assert response.status_code == 401 and response.json()["error"] == "unauthorized"
    assert marked_ids(clean_database) == []
