"""An admin onboards a merchant from the console in a real browser (a bad till first,
told on the form) and issues it an API key, whose secret is shown once. A screenshot of
each page is kept (see conftest.py)."""

from __future__ import annotations

from tests.browser.test_console_tables_browser import signed_in


def test_an_admin_onboards_a_merchant_and_issues_it_a_key(
    page, live_server, live_settings, clean_database
):
    signed_in(page, live_server, live_settings, clean_database, role="admin")
    page.click("nav >> text=Merchants")
    page.fill("input[name=legal_name]", "Kibanda Hardware Ltd")
    page.fill("input[name=display_name]", "KIBANDA HARDWARE")
    page.fill("input[name=till_number]", "0734")
    page.fill("input[name=contact_phone]", "0711000201")
    page.fill("input[name=payout_phone]", "0711000202")
    page.fill("input[name=fee_bps]", "80")
    page.fill("input[name=fee_max_cents]", "15000")
    page.click("button:has-text('Onboard')")
    page.wait_for_selector("[data-error=invalid_till]")
    assert page.input_value("input[name=legal_name]") == "Kibanda Hardware Ltd"
    page.shot("merchant-onboard-refused")
    page.fill("input[name=till_number]", "734001")
    page.click("button:has-text('Onboard')")
    page.wait_for_selector("text=Onboarded")
    assert page.inner_text("[data-field=till]") == "734001"
    merchant_page = page.url.split("?")[0]

    page.click("button:has-text('Issue a key')")
    secret = page.inner_text("[data-field=secret]")
    assert secret.startswith("mks_")
    assert page.locator("#keys tbody tr").count() == 1
    page.shot("merchant-key-issued")
    page.goto(merchant_page)  # the page again: the key listed, its secret gone for good
    assert page.locator("#keys tbody tr").count() == 1
    assert secret not in page.content() and "Issued" not in page.content()
