"""The console's newer pages in a real browser: an operator finds a harambee campaign
and refunds a cancelled one's contributors; an admin creates an operator (the TOTP seed
shown once), changes their role and disables them; the reconciliation reports and
PayTrace's own Stellar accounts read from the local network. A screenshot of each page
is kept (see conftest.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.config import Settings
from app.db.unit_of_work import UnitOfWork
from app.services.harambee import campaigns, contributions
from app.services.harambee.contributions import ContributionRequest
from tests.browser.test_console_tables_browser import signed_in
from tests.integration.test_console_reconciliation import stellar_report
from tests.support.console import PASSWORD
from tests.support.stellar import prepared_system
from tests.support.wallets import SHORTCODE, fund, phone_of, register, registration_secrets


@pytest.fixture
def live_settings(live_settings: Settings, horizon_url: str) -> Settings:
    return live_settings.model_copy(
        update={"stellar_horizon_url": horizon_url, "stellar_channels": 2}
    )


@pytest.fixture
def people(live_settings, clean_database) -> list[int]:
    box, pin_hash = registration_secrets(live_settings)
    ids = []
    for n, name in ((1, "Wanjiru Kamau"), (2, "Otieno Ouma"), (3, "Akinyi Njeri")):
        ids.append(register(clean_database, box, pin_hash, phone=phone_of(n), name=name))
        fund(clean_database, phone_of(n), 10_000_00)
    return ids


def start(database, organiser: int, title: str, key: str):
    return campaigns.start_campaign(
        UnitOfWork(database),
        organiser_user_id=organiser,
        title=title,
        target_amount=1_000_00,
        key=key,
        shortcode=SHORTCODE,
    ).campaign


def test_an_operator_finds_a_campaign_and_refunds_a_cancelled_ones_contributors(
    page, live_server, live_settings, clean_database, people
):
    organiser, giver, other = people
    start(clean_database, organiser, "School fees for Amani", "a")
    harvest = start(clean_database, organiser, "Harvest festival", "b")
    for user, amount, key in ((giver, 300_00, "g1"), (other, 200_00, "g2")):
        contributions.contribute(
            UnitOfWork(clean_database), ContributionRequest(user, harvest.id, amount, key)
        )
    with UnitOfWork(clean_database) as uow:  # a cancel interrupted before its refunds
        uow.campaigns.end(harvest.id, status="cancelled", payout_id=None, now=datetime.now(UTC))
        uow.commit()
    signed_in(page, live_server, live_settings, clean_database)

    page.click("nav >> text=Harambee")
    page.wait_for_selector("#campaigns")
    assert page.locator("#campaigns tbody tr").count() == 2
    page.shot("campaigns")
    page.select_option("select[name=status]", "cancelled")
    page.click("button:has-text('Find')")
    page.wait_for_selector("#campaigns >> text=Harvest festival")
    assert page.locator("#campaigns tbody tr").count() == 1
    page.click("#campaigns >> text=Harvest festival")
    page.wait_for_selector("#campaign")
    assert page.inner_text("[data-field=escrow]") == "KES 500"
    page.shot("campaign")
    page.click("button:has-text('Refund the 2 contributor(s) still owed')")
    page.wait_for_selector("text=2 contributor(s) refunded now")
    assert page.inner_text("[data-field=escrow]") == "KES 0"
    page.shot("campaign-refunded")


def test_an_admin_creates_an_operator_changes_their_role_and_disables_them(
    page, live_server, live_settings, clean_database
):
    signed_in(page, live_server, live_settings, clean_database, "admin")
    page.click("nav >> text=Operators")
    page.wait_for_selector("#operators")
    page.fill("#new-operator input[name=email]", "amina@paytrace.test")
    page.select_option("#new-operator select[name=role]", "viewer")
    page.fill("#new-operator input[name=password]", PASSWORD)
    page.click("#new-operator button:has-text('Create')")
    page.wait_for_selector("#provisioning")
    assert page.inner_text("[data-field=provisioning_uri]").startswith("otpauth://totp/")
    page.shot("operator-created")

    row = page.locator("#operators tr[data-operator='amina@paytrace.test']")
    row.locator("select[name=role]").select_option("operator")
    row.locator("button:has-text('Change role')").click()
    page.wait_for_selector("text=Role changed")
    row = page.locator("#operators tr[data-operator='amina@paytrace.test']")
    assert row.locator("select[name=role]").input_value() == "operator"
    row.locator("button:has-text('Disable')").click()
    page.wait_for_selector("text=Disabled: their sessions end")
    row = page.locator("#operators tr[data-operator='amina@paytrace.test']")
    assert "disabled" in row.inner_text()
    page.shot("operators")
    assert page.locator("tr[data-operator='admin@paytrace.test'] button").count() == 0


def test_the_reconciliation_reports_and_paytraces_stellar_accounts(
    page, live_server, live_settings, clean_database
):
    prepared_system(live_settings)
    now = datetime.now(UTC)
    stellar_report(clean_database, now - timedelta(days=1), 0, [])
    stellar_report(clean_database, now, 0, [])
    signed_in(page, live_server, live_settings, clean_database, "viewer")

    page.click("nav >> text=Reconciliation")
    page.wait_for_selector("#stellar-report")
    assert page.inner_text("[data-field=drifts]") == "0 parties drifting"
    assert page.locator("#stellar-days tbody tr").count() == 2
    page.shot("reconciliation")
    page.click("nav >> text=Stellar")
    page.wait_for_selector("#stellar-accounts")
    assert page.locator("#stellar-accounts tbody tr").count() == 5  # issuer, treasury, fee, 2
    assert page.inner_text("tr[data-account=treasury] [data-field=kes]") != ""
    page.shot("stellar-accounts")
    page.click("nav >> text=Callbacks")
    page.wait_for_selector("h1")
    page.shot("callbacks")
