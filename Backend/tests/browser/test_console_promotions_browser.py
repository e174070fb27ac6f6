"""The promotions page in a real browser: an admin funds the promotions account (the
form posted, the balance shown), is told a bad cashback rule on the form with what was
typed kept, adds a good one and ends it. A screenshot of each step is kept (see
conftest.py)."""

from __future__ import annotations

from tests.browser.conftest import artifacts_dir
from tests.browser.test_console_tables_browser import signed_in
from tests.support.promotions import promotions_balance


def test_an_admin_funds_promotions_and_adds_then_ends_a_cashback_rule(
    page, live_server, live_settings, clean_database
):
    signed_in(page, live_server, live_settings, clean_database, "admin")
    page.click("nav a:has-text('Promotions')")
    page.wait_for_selector("h1:has-text('Promotions')")
    page.fill("#fund input[name=reference]", "BANK-0301")
    page.fill("#fund input[name=amount_kes]", "5000")
    page.fill("#fund input[name=reason]", "March cashback budget")
    page.click("#fund button[type=submit]")
    page.wait_for_selector("p.done:has-text('funded from the float')")
    assert page.inner_text("[data-figure=balance]") == "KES 5,000"
    assert promotions_balance(clean_database) == 5_000_00

    page.fill("#new-rule input[name=name]", "Airtime 1%")
    page.fill("#new-rule input[name=biller]", "airtime_safaricom")
    page.fill("#new-rule input[name=cap_kes]", "200")
    page.fill("#new-rule textarea[name=tiers]", "10:5000:100\n4000:10000:50")
    page.click("#new-rule button[type=submit]")
    page.wait_for_selector("[data-error=invalid_rule]")
    assert page.input_value("#new-rule input[name=name]") == "Airtime 1%"  # kept
    page.shot("promotions-rule-refused")
    page.fill("#new-rule textarea[name=tiers]", "10:3999:50\n4000:10000:100")
    page.click("#new-rule button[type=submit]")
    page.wait_for_selector("p.done:has-text('Cashback rule added')")
    row = page.locator("#cashback-rules tbody tr").first
    assert (
        "airtime_safaricom" in row.inner_text()
        and row.locator("[data-field=state]").inner_text() == "valid"
    )
    page.shot("promotions")
    page.locator("#rules").screenshot(path=str(artifacts_dir() / "promotions-rules.png"))
    row.locator("button:has-text('End')").click()
    page.wait_for_selector("p.done:has-text('Cashback rule ended')")
