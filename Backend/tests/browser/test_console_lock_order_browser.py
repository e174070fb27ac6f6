"""The hot accounts page in a real browser: an admin reaches it from the menu, is told a
mistyped phone on the form with what was typed kept, marks the wallet locked last (the
row appears, the ledger says so), then unmarks it from its row. A screenshot of the
marked list is kept (see conftest.py)."""

from __future__ import annotations

from tests.browser.test_console_tables_browser import signed_in
from tests.integration.test_console_tables import query
from tests.support.wallets import phone_of, register, registration_secrets


def locked_last(database) -> list[tuple[int]]:
    return query(database, "SELECT id FROM ledger_accounts WHERE locked_last")


def test_an_admin_marks_a_hot_wallet_and_unmarks_it(
    page, live_server, live_settings, clean_database
):
    box, pin_hash = registration_secrets(live_settings)
    shop = register(clean_database, box, pin_hash, phone=phone_of(1), name="Duka la Mama")
    [(wallet,)] = query(clean_database, f"SELECT id FROM ledger_accounts WHERE user_id = {shop}")
    signed_in(page, live_server, live_settings, clean_database, "admin")
    page.click("nav a:has-text('Hot accounts')")
    page.wait_for_selector("h1:has-text('Hot accounts')")
    assert "No account is marked" in page.inner_text("#hot-accounts")

    page.select_option("#mark select[name=owner_kind]", "wallet")
    page.fill("#mark input[name=owner]", "0711 00")
    page.fill("#mark input[name=reason]", "market-day till")
    page.click("#mark button[type=submit]")
    page.wait_for_selector("[data-error=invalid_phone]")
    assert page.input_value("#mark input[name=owner]") == "0711 00"  # kept
    assert locked_last(clean_database) == []

    page.fill("#mark input[name=owner]", "0711 000 001")
    page.click("#mark button[type=submit]")
    page.wait_for_selector("p.done:has-text('Marked')")
    row = page.locator(f"#hot-accounts tr[data-account='{wallet}']")
    assert phone_of(1) in row.inner_text()
    assert locked_last(clean_database) == [(wallet,)]
    page.shot("hot-accounts")

    row.locator("input[name=reason]").fill("the market closed")
    row.locator("button:has-text('Unmark')").click()
    page.wait_for_selector("p.done:has-text('Unmarked')")
    assert locked_last(clean_database) == []
