"""The console's tables in a real browser: an operator finds a transfer by the sender's
phone, opens it, reverses it through the confirmation page with a reason, and finds the
reversal in the audit log; a parked settlement is retried from its table; an admin reads
a merchant's deliveries, redelivers an event and suspends the merchant. A screenshot
of each page is kept (see conftest.py)."""

from __future__ import annotations

import pytest

from app.config import Settings
from app.db.unit_of_work import UnitOfWork
from app.services import webhooks
from app.services.custody import SecretBox
from tests.integration.test_admin_settlements import park, send
from tests.support.console import PASSWORD, make_operator
from tests.support.merchants import keyed_merchant
from tests.support.wallets import fund, phone_of, register, registration_secrets

ALICE, BOB = phone_of(1), phone_of(2)


@pytest.fixture
def live_settings(live_settings: Settings, horizon_url: str) -> Settings:
    """Custody on (PayTrace's local Stellar network): a retry asks it about the envelope."""
    return live_settings.model_copy(update={"stellar_horizon_url": horizon_url})


@pytest.fixture
def alice(live_settings, clean_database) -> int:
    box, pin_hash = registration_secrets(live_settings)
    alice = register(clean_database, box, pin_hash, phone=ALICE, name="Alice Wanjiru")
    register(clean_database, box, pin_hash, phone=BOB, name="Bob Otieno")
    fund(clean_database, ALICE, 500_000)
    return alice


def signed_in(page, server, settings, database, role: str = "operator") -> int:
    who = make_operator(settings, database, role, f"{role}@paytrace.test")
    page.goto(f"{server.url}/console/login")
    page.fill("input[name=email]", who.email)
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=code]", who.code())
    page.click("button[type=submit]")
    page.wait_for_selector("h1:has-text('Dashboard')")
    return who.id


def test_an_operator_reverses_a_transfer_through_its_confirmation_page(
    page, live_server, live_settings, clean_database, alice
):
    moved = send(clean_database, alice, BOB, 120_000, "t1")
    operator_id = signed_in(page, live_server, live_settings, clean_database)

    page.click("nav >> text=Transactions")
    page.fill("input[name=q]", "0711 000 001")
    page.click("button:has-text('Find')")
    page.wait_for_selector("#found")
    page.shot("transactions-found")
    page.click(f"#found a[href='/console/transactions/{moved}'] >> nth=0")
    page.wait_for_selector("#transaction")
    assert page.inner_text("[data-field=kind]") == "transfer"
    assert page.inner_text("[data-field=amount]") == "KES 1,200"
    page.shot("transaction")

    page.click("text=Reverse…")
    page.wait_for_selector("#confirm")
    page.shot("reverse-confirmation")
    page.fill("input[name=reason]", "sent to the wrong number, confirmed by both")
    page.click("button:has-text('Confirm reversal')")
    page.wait_for_selector("text=Reversed")
    assert page.inner_text("[data-field=kind]") == "reversal"
    assert page.inner_text("[data-field=reverses]") == f"#{moved}"
    page.shot("reversed")

    page.click("nav >> text=Audit log")
    row = page.locator("tr", has_text="console_reverse_transaction").first
    assert "sent to the wrong number" in row.inner_text()
    assert f"operator:{operator_id}" in row.inner_text()
    page.shot("audit-log")


def test_an_operator_retries_a_parked_settlement(
    page, live_server, live_settings, clean_database, alice
):
    moved = send(clean_database, alice, BOB, 100_000, "t1")
    park(clean_database, moved, "op_no_trust")
    signed_in(page, live_server, live_settings, clean_database)

    page.click("nav >> text=Settlements")
    parked = page.locator("#settlements tr", has_text="op_no_trust")
    page.shot("settlements-parked")
    parked.locator("button:has-text('Retry')").click()
    page.wait_for_selector("text=is pending again")
    assert page.locator("#settlements tr", has_text="op_no_trust").count() == 0
    page.shot("settlement-retried")


def test_an_admin_redelivers_an_event_and_suspends_a_merchant(
    page, live_server, live_settings, clean_database
):
    shop = keyed_merchant(clean_database, live_settings)
    webhooks.create_endpoint(
        UnitOfWork(clean_database),
        SecretBox.from_settings(live_settings),
        shop.merchant_id,
        "http://127.0.0.1:9/hooks",
        "k1",
        production=False,
    )
    uow = UnitOfWork(clean_database)
    with uow:
        event = webhooks.emit(uow, shop.merchant_id, "ping", {"object": "ping", "id": "p1"})
        uow.commit()
    signed_in(page, live_server, live_settings, clean_database, "admin")

    page.click("nav >> text=Merchants")
    page.wait_for_selector("#merchants >> text=MAMA MBOGA")
    page.shot("merchants")
    page.click("#merchants >> text=MAMA MBOGA")
    page.wait_for_selector("#merchant")
    assert page.inner_text("[data-field=status]") == "active"
    assert shop.key_id in page.inner_text("#keys")
    page.shot("merchant")
    events = page.locator("#deliveries tr", has_text=event.public_id)
    events.locator("button:has-text('Redeliver')").click()
    page.wait_for_selector("text=queued again")
    page.click("button:has-text('Suspend')")
    page.wait_for_selector("text=Suspended:")
    assert page.inner_text("[data-field=status]") == "suspended"
    page.shot("merchant-suspended")
