"""The console's merchant forms over real HTTP: an admin onboards a merchant (the admin
API's rules: a bad or taken till, a bad display name, the form again with the error and
nothing made), edits it, issues a key (its secret shown once) and revokes it; an operator
pays a merchant out (a form posted twice makes one payout); a merchant's full payments,
orders and payouts, paged. Refusals of roles and CSRF for every route are in
tests/security/test_console_access.py."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from app.db.unit_of_work import UnitOfWork
from app.services import merchants
from app.services.merchant_payments import payments as merchant_payments
from app.services.merchant_payments.payments import MerchantPaymentRequest
from tests.integration.test_console_tables import audited, console_as, query
from tests.support.console import csrf_of
from tests.support.merchants import keyed_merchant
from tests.support.wallets import fund, phone_of, register, registration_secrets

KES = 100
FORM = {
    "legal_name": "Kibanda Hardware Ltd",
    "display_name": "KIBANDA HARDWARE",
    "till_number": "734001",
    "contact_phone": "0711000201",
    "payout_phone": "0711000202",
    "payout_schedule": "on_request",
    "language": "sw",
    "fee_bps": "80",
    "fee_min_cents": "0",
    "fee_max_cents": "15000",
}
_NONCE = re.compile(r'name="nonce" value="([0-9a-f]+)"')
_SECRET = re.compile(r'data-field="secret">(mks_[^<]+)<')


@pytest.fixture
def admin(live_server, live_settings, clean_database) -> Iterator[httpx.Client]:
    client = console_as(live_server, live_settings, clean_database, "admin")
    yield client
    client.close()


def merchant_count(database) -> int:
    return query(database, "SELECT count(*) FROM merchants")[0][0]


def onboard(client: httpx.Client, **changes: str) -> httpx.Response:
    csrf = csrf_of(client.get("/console/merchants").text)
    return client.post("/console/merchants", data={"csrf": csrf, **FORM, **changes})


def test_an_admin_onboards_a_merchant_and_the_same_form_again_makes_no_second(
    admin, clean_database
):
    made = onboard(admin)
    assert made.status_code == 200 and "Onboarded" in made.text, made.text
    assert "KIBANDA HARDWARE" in made.text and "80 bps" in made.text
    [(merchant_id, phone, language)] = query(
        clean_database, "SELECT id, contact_phone, language FROM merchants"
    )
    assert made.url.path == f"/console/merchants/{merchant_id}"
    assert (phone, language) == ("+254711000201", "sw")
    again = onboard(admin)  # a double submit: the till is the merchant's natural key
    assert again.url.path == f"/console/merchants/{merchant_id}"
    assert merchant_count(clean_database) == 1
    first, second = audited(clean_database, "console_onboard_merchant")
    assert (first[1], first[2], first[4]) == ("till", "734001", "done")
    assert first[5]["committed_with_action"] is True and second[5]["replayed"] is True


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"till_number": "0123"}, "invalid_till"),
        ({"till_number": "12345678"}, "invalid_till"),
        ({"display_name": "K"}, "invalid_display_name"),
        ({"display_name": "KIBANDA ✓"}, "invalid_display_name"),
        ({"contact_phone": "not a phone"}, "invalid_phone"),
        ({"fee_bps": "eighty"}, "invalid_fee"),
        ({"fee_min_cents": "90000"}, "invalid_fee"),
    ],
)
def test_a_bad_onboarding_form_comes_back_with_its_error_and_makes_nothing(
    admin, clean_database, changes, code
):
    answer = onboard(admin, **changes)
    assert answer.status_code == 422, answer.text
    assert f'data-error="{code}"' in answer.text
    assert 'value="Kibanda Hardware Ltd"' in answer.text  # what was typed, kept
    assert merchant_count(clean_database) == 0
    [row] = audited(clean_database, "console_onboard_merchant")
    assert (row[4], row[5]["error"]) == ("refused", code)


def test_a_till_another_merchant_has_is_refused_on_the_form(admin, live_settings, clean_database):
    keyed_merchant(clean_database, live_settings, till="734001")
    answer = onboard(admin)
    assert answer.status_code == 409 and 'data-error="till_taken"' in answer.text
    assert merchant_count(clean_database) == 1


def test_an_admin_edits_a_merchant_and_a_bad_field_changes_nothing(
    admin, live_settings, clean_database
):
    shop = keyed_merchant(clean_database, live_settings)
    page = admin.get(f"/console/merchants/{shop.merchant_id}")
    csrf = csrf_of(page.text)
    path = f"/console/merchants/{shop.merchant_id}/edit"
    bad = admin.post(path, data={"csrf": csrf, "display_name": "X", "fee_bps": "70"})
    assert bad.status_code == 422 and 'data-error="invalid_display_name"' in bad.text
    kept = merchants.get(UnitOfWork(clean_database), shop.merchant_id)
    assert kept is not None and (kept.display_name, kept.fee_bps) == ("MAMA MBOGA", 50)
    done = admin.post(
        path, data={"csrf": csrf, "display_name": "MAMA MBOGA 2", "fee_bps": "70", "legal_name": ""}
    )
    assert done.status_code == 200 and "Saved." in done.text
    now = merchants.get(UnitOfWork(clean_database), shop.merchant_id)
    assert now is not None
    assert (now.display_name, now.fee_bps, now.legal_name) == (
        "MAMA MBOGA 2",
        70,
        "Mama Mboga Groceries Ltd",  # left empty: unchanged
    )
    rows = audited(clean_database, "console_edit_merchant")
    assert [row[4] for row in rows] == ["refused", "done"]
    assert rows[1][5]["fields"] == ["display_name", "fee_bps"]


def test_a_key_is_issued_with_its_secret_shown_once_then_revoked(
    admin, live_settings, clean_database
):
    shop = keyed_merchant(clean_database, live_settings)
    page = admin.get(f"/console/merchants/{shop.merchant_id}")
    csrf = csrf_of(page.text)
    issued = admin.post(f"/console/merchants/{shop.merchant_id}/keys", data={"csrf": csrf})
    assert issued.status_code == 200 and issued.headers["cache-control"] == "no-store"
    secret = _SECRET.search(issued.text)
    assert secret, issued.text
    [(key_id,)] = query(
        clean_database,
        "SELECT key_id FROM merchant_api_keys WHERE key_id <> %(k)s",
        {"k": shop.key_id},
    )
    assert key_id in issued.text
    again = admin.get(f"/console/merchants/{shop.merchant_id}")
    assert key_id in again.text and secret.group(1) not in again.text  # once, never again
    [row] = audited(clean_database, "console_issue_merchant_key")
    assert row[5]["key_id"] == key_id and secret.group(1) not in str(row)
    third = admin.post(f"/console/merchants/{shop.merchant_id}/keys", data={"csrf": csrf})
    assert third.status_code == 409 and 'data-error="too_many_keys"' in third.text
    revoked = admin.post(
        f"/console/merchants/{shop.merchant_id}/keys/{shop.key_id}/revoke", data={"csrf": csrf}
    )
    assert revoked.status_code == 200 and "Revoked" in revoked.text
    [(revoked_at,)] = query(
        clean_database,
        "SELECT revoked_at FROM merchant_api_keys WHERE key_id = %(k)s",
        {"k": shop.key_id},
    )
    assert revoked_at is not None


@pytest.fixture
def paid_shop(live_settings, clean_database):
    """A merchant whose till Jane paid KES 5,000 (it holds 4,975 after its fee)."""
    shop = keyed_merchant(clean_database, live_settings)
    box, pin_hash = registration_secrets(live_settings, "4821")
    jane = register(clean_database, box, pin_hash, phone=phone_of(1), name="Jane")
    fund(clean_database, phone_of(1), 10_000 * KES)
    for n in range(3):
        merchant_payments.pay(
            UnitOfWork(clean_database),
            MerchantPaymentRequest(jane, "512345", 1_000 * KES + n * KES, f"p{n}"),
        )
    return shop


def payouts(database) -> list[tuple]:
    return query(
        database,
        "SELECT w.amount, p.origin FROM merchant_payouts p"
        " JOIN mpesa_withdrawals w ON w.id = p.withdrawal_id ORDER BY p.id",
    )


def test_a_payout_form_posted_twice_makes_one_payout(
    live_server, live_settings, clean_database, paid_shop
):
    operator = console_as(live_server, live_settings, clean_database, "operator")
    try:
        page = operator.get(f"/console/merchants/{paid_shop.merchant_id}")
        assert "Issue a key" not in page.text and "Edit" not in page.text  # admin's
        form = {"csrf": csrf_of(page.text), "nonce": _NONCE.search(page.text).group(1)}
        path = f"/console/merchants/{paid_shop.merchant_id}/payouts"
        no_reason = operator.post(path, data={**form, "amount": "500"})
        assert no_reason.status_code == 422 and 'data-error="invalid_reason"' in no_reason.text
        bad = operator.post(path, data={**form, "amount": "5.50", "reason": "asked"})
        assert bad.status_code == 422 and 'data-error="invalid_amount"' in bad.text
        broke = operator.post(path, data={**form, "amount": "250000", "reason": "asked"})
        assert broke.status_code == 409
        assert 'data-error="insufficient_merchant_balance"' in broke.text
        assert payouts(clean_database) == []
        first = operator.post(path, data={**form, "amount": "500", "reason": "asked by phone"})
        second = operator.post(path, data={**form, "amount": "500", "reason": "asked by phone"})
        assert first.status_code == second.status_code == 200
        assert "Payout requested" in second.text
        assert payouts(clean_database) == [(500 * KES, "admin")]
        other = operator.post(path, data={**form, "amount": "600", "reason": "asked"})
        assert other.status_code == 409 and "idempotency_key_reused" in other.text
        listed = operator.get(path)
        assert listed.status_code == 200
        assert listed.text.count('<tr><td><a href="/console/transactions?q=') == 1
        link = re.search(r'href="(/console/transactions\?q=[^"]+)"', listed.text)
        hold = operator.get(link.group(1).replace("&amp;", "&"))
        assert hold.status_code == 200  # the payout's hold, found by its reference
        assert '<td>withdrawal</td><td class="num">500</td>' in hold.text
    finally:
        operator.close()
    rows = audited(clean_database, "console_request_merchant_payout")
    done = [row for row in rows if row[4] == "done"]
    assert len(done) == 2 and done[0][3] == "asked by phone"
    assert done[0][5]["committed_with_action"] is True and done[1][5]["replayed"] is True


def test_a_merchants_payments_are_paged_to_their_transactions(
    live_server, live_settings, clean_database, paid_shop
):
    viewer = console_as(live_server, live_settings, clean_database, "viewer")
    try:
        path = f"/console/merchants/{paid_shop.merchant_id}/payments"
        ids = [
            t
            for (t,) in query(
                clean_database,
                "SELECT transaction_id FROM merchant_payments ORDER BY transaction_id DESC",
            )
        ]
        first = viewer.get(path)
        assert first.status_code == 200
        shown = [int(t) for t in re.findall(r'href="/console/transactions/(\d+)"', first.text)]
        assert shown == ids and "before=" not in first.text  # all of them: no older page
        older = viewer.get(path, params={"before": ids[0]})  # the keyset's cursor
        rest = [int(t) for t in re.findall(r'href="/console/transactions/(\d+)"', older.text)]
        assert rest == ids[1:]
        for table in ("orders", "payouts"):
            seen = viewer.get(f"/console/merchants/{paid_shop.merchant_id}/{table}")
            assert seen.status_code == 200 and f'id="{table}"' in seen.text
        assert viewer.get("/console/merchants/999999/payments").status_code == 404
        assert viewer.get(f"{path}?before=abc").status_code == 422
        page = viewer.get(f"/console/merchants/{paid_shop.merchant_id}")
        assert "nonce" not in page.text and "Pay out" not in page.text  # nothing to act on
    finally:
        viewer.close()
