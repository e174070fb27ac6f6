"""The console in a real browser: an operator signs in with a TOTP code, sees the
dashboard's chart drawn, finds a user, unlocks their PIN with a reason, and finds the
unlock in the audit log. A screenshot of each page is kept (see conftest.py)."""

from __future__ import annotations

import pytest

from tests.integration.test_admin_api import wrong_pin
from tests.support.console import PASSWORD, make_operator
from tests.support.wallets import fund, phone_of, register, registration_secrets

ALICE = phone_of(1)


@pytest.fixture
def alice_locked(live_settings, clean_database) -> int:
    box, pin_hash = registration_secrets(live_settings)
    alice = register(clean_database, box, pin_hash, phone=ALICE, name="Alice Wanjiru")
    fund(clean_database, ALICE, 420_000)
    for n in range(3):
        with pytest.raises(Exception):  # noqa: B017 - WrongPin, then PinLocked
            wrong_pin(live_settings, clean_database, alice, f"w{n}")
    return alice


def canvas_is_blank(page, canvas_id: str = "daily") -> bool:
    return page.evaluate(
        """(canvasId) => {
            const canvas = document.getElementById(canvasId);
            const pixels = canvas.getContext('2d')
                .getImageData(0, 0, canvas.width, canvas.height).data;
            for (let i = 3; i < pixels.length; i += 4) { if (pixels[i] !== 0) return false; }
            return true;
        }""",
        canvas_id,
    )


def test_an_operator_signs_in_finds_a_user_and_unlocks_their_pin(
    page, live_server, live_settings, clean_database, alice_locked
):
    who = make_operator(live_settings, clean_database, "operator", "ops@paytrace.test")
    page.goto(f"{live_server.url}/console")
    assert page.url.endswith("/console/login")  # no session: sent to sign in
    page.fill("input[name=email]", who.email)
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=code]", who.code())
    page.shot("sign-in")
    page.click("button[type=submit]")

    page.wait_for_selector("h1:has-text('Dashboard')")
    page.wait_for_selector("canvas#daily[data-drawn=yes]")
    assert not canvas_is_blank(page)
    today = page.locator(".kpi[data-window='1'] [data-kpi=value]")
    assert today.inner_text() == "KES 4,200"
    page.shot("dashboard")

    page.click("nav >> text=Users")
    page.fill("input[name=q]", "0711 000 001")
    page.click("button:has-text('Find')")
    page.wait_for_selector("#user")
    assert page.inner_text("[data-field=phone]") == ALICE
    assert page.inner_text("[data-field=balance]") == "KES 4,200"
    assert "locked until" in page.inner_text("[data-field=pin]")
    page.shot("user-locked")

    page.fill("input[name=reason]", "caller verified by ID and last deposit")
    page.click("button:has-text('Unlock PIN')")
    page.wait_for_selector("text=PIN unlocked")
    assert page.inner_text("[data-field=pin]").strip() == "open"
    page.shot("user-unlocked")

    page.click("nav >> text=Audit log")
    row = page.locator("tr", has_text="console_unlock_pin").first
    assert "caller verified by ID" in row.inner_text()
    assert f"operator:{who.id}" in row.inner_text()
    page.shot("audit-log")

    page.click("button:has-text('Sign out')")
    page.wait_for_url("**/console/login")
    page.goto(f"{live_server.url}/console/users")
    assert page.url.endswith("/console/login")


def test_a_wrong_totp_code_keeps_the_browser_out(page, live_server, live_settings, clean_database):
    who = make_operator(live_settings, clean_database, "admin", "admin@paytrace.test")
    page.goto(f"{live_server.url}/console/login")
    page.fill("input[name=email]", who.email)
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=code]", f"{(int(who.code()) + 1) % 1_000_000:06d}")
    page.click("button[type=submit]")
    page.wait_for_selector("[role=alert]:has-text('wrong email, password or code')")
    page.shot("wrong-code")
    page.goto(f"{live_server.url}/console")
    assert page.url.endswith("/console/login")
