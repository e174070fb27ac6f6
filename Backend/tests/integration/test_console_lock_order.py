"""The console's hot accounts over real HTTP and PostgreSQL: admins mark a wallet (by its
owner's phone), a merchant or a harambee's escrow locked last and unmark it, with a
reason, each audited; viewers read the list and are offered no form; a bad form is the
page again with its error and nothing changed, never a 500."""

from __future__ import annotations

import html

import httpx
import pytest

from tests.integration import test_console_promotions
from tests.integration.test_console_tables import audited, console_as, query
from tests.integration.test_harambee_concurrency import open_campaign
from tests.support.console import csrf_of
from tests.support.merchants import keyed_merchant
from tests.support.wallets import phone_of, register, registration_secrets

PAGE = "/console/lock-order"

# An admin signed in to the console, as the promotions tests have one.
admin = test_console_promotions.admin


@pytest.fixture
def user(live_settings, clean_database) -> int:
    box, pin_hash = registration_secrets(live_settings)
    return register(clean_database, box, pin_hash, phone=phone_of(1))


def marked(database) -> list[tuple[int, str]]:
    return query(database, "SELECT id, kind FROM ledger_accounts WHERE locked_last ORDER BY id")


def wallet_of(database, user_id: int) -> int:
    return query(database, f"SELECT id FROM ledger_accounts WHERE user_id = {user_id}")[0][0]


def post(client: httpx.Client, **form: str) -> httpx.Response:
    csrf = csrf_of(client.get(PAGE).text)
    return client.post(PAGE, data={"csrf": csrf, "reason": "market day", **form})


def test_an_admin_marks_a_wallet_by_phone_sees_it_listed_and_unmarks_it(
    admin, clean_database, user
):
    wallet = wallet_of(clean_database, user)
    local = "0" + phone_of(1)[4:]
    answer = post(admin, owner_kind="wallet", owner=local, locked_last="1")
    assert answer.status_code == 200 and "Marked: movements take its lock" in answer.text
    assert marked(clean_database) == [(wallet, "wallet")]
    assert f'<tr data-account="{wallet}">' in answer.text and phone_of(1) in answer.text

    again = post(admin, owner_kind="wallet", owner=phone_of(1), locked_last="1")
    assert "nothing changed" in again.text

    off = post(admin, owner_kind="wallet", owner=phone_of(1), locked_last="0")
    assert "Unmarked" in off.text and marked(clean_database) == []
    assert "No account is marked" in off.text

    rows = audited(clean_database, "console_mark_hot_account")
    assert [(r[1], r[2], r[3], r[4]) for r in rows] == [
        ("ledger_account", str(wallet), "market day", "done"),
        ("ledger_account", str(wallet), "market day", "done"),
        ("ledger_account", str(wallet), "market day", "done"),
    ]
    assert rows[1][5]["changed"] is False and rows[2][5]["locked_last"] is False


def test_a_merchant_and_a_harambee_escrow_are_marked_by_their_numbers(
    admin, live_settings, clean_database, user
):
    merchant = keyed_merchant(clean_database, live_settings)
    campaign_id = open_campaign(clean_database, user, target=100_000)
    [(code, escrow)] = query(
        clean_database, f"SELECT code, account_id FROM campaigns WHERE id = {campaign_id}"
    )
    post(admin, owner_kind="merchant", owner=str(merchant.merchant_id), locked_last="1")
    page = post(admin, owner_kind="campaign", owner=code, locked_last="1")
    assert {kind for _, kind in marked(clean_database)} == {"merchant", "campaign"}
    assert escrow in [i for i, _ in marked(clean_database)]
    assert f'href="/console/merchants/{merchant.merchant_id}"' in page.text
    assert f"harambee {code}" in page.text


@pytest.mark.parametrize(
    "form, status, code",
    [
        ({"owner_kind": "wallet", "owner": "no phone", "locked_last": "1"}, 422, "invalid_phone"),
        ({"owner_kind": "shop", "owner": "1", "locked_last": "1"}, 422, "invalid_owner"),
        ({"owner_kind": "merchant", "owner": "-3", "locked_last": "1"}, 422, "invalid_owner"),
        ({"owner_kind": "merchant", "owner": "9" * 30, "locked_last": "1"}, 422, "invalid_owner"),
        ({"owner_kind": "campaign", "owner": "012345", "locked_last": "1"}, 422, "invalid_owner"),
        ({"owner_kind": "wallet", "owner": phone_of(1), "locked_last": "yes"}, 422, "invalid_mark"),
        ({"owner_kind": "wallet", "owner": phone_of(2), "locked_last": "1"}, 404, "not_found"),
        ({"owner_kind": "merchant", "owner": "77", "locked_last": "1"}, 404, "not_found"),
        ({"owner_kind": "campaign", "owner": "654321", "locked_last": "1"}, 404, "not_found"),
        (
            {"owner_kind": "wallet", "owner": phone_of(1), "locked_last": "1", "reason": " "},
            422,
            "invalid_reason",
        ),
    ],
)
def test_a_bad_form_is_the_page_again_with_its_error_and_nothing_changed(
    admin, clean_database, user, form, status, code
):
    answer = post(admin, **form)
    assert answer.status_code == status, answer.text
    assert f'data-error="{code}"' in answer.text
    assert html.escape(form["owner"]) in answer.text  # what was typed, kept
    assert marked(clean_database) == []
    [row] = audited(clean_database, "console_mark_hot_account")
    assert row[4] == "refused" and row[5]["error"] == code


def test_a_viewer_reads_the_list_and_is_offered_no_form(
    live_server, live_settings, clean_database, admin, user
):
    post(admin, owner_kind="wallet", owner=phone_of(1), locked_last="1")
    viewer = console_as(live_server, live_settings, clean_database, "viewer")
    page = viewer.get(PAGE)
    viewer.close()
    assert page.status_code == 200
    assert phone_of(1) in page.text
    assert "Mark locked last" not in page.text and "Unmark" not in page.text
