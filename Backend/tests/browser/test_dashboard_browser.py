"""The dashboard in a real browser on the demo's history (written small through the real
services): the stacked chart drawn, the rails and positions shown, and a figure followed
to the rows behind it. A screenshot of each page is kept (see conftest.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from app.db.unit_of_work import UnitOfWork
from app.services import demo
from tests.browser.test_console_browser import canvas_is_blank
from tests.support.console import PASSWORD, make_operator


def test_the_dashboard_draws_the_demo_history_and_drills_down_to_rows(
    page, live_server, live_settings, clean_database
):
    demo.fill(
        lambda: UnitOfWork(clean_database), live_settings, users=20, days=3, now=datetime.now(UTC)
    )
    who = make_operator(live_settings, clean_database, "viewer", "viewer@paytrace.test")
    page.goto(f"{live_server.url}/console/login")
    page.fill("input[name=email]", who.email)
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=code]", who.code())
    page.click("button[type=submit]")

    page.wait_for_selector("canvas#daily[data-drawn=yes]")
    assert not canvas_is_blank(page)
    assert page.locator("#stk tbody tr").count() >= 2  # paid and not paid
    assert "KES" in page.inner_text("[data-figure=float]")
    assert page.inner_text(".kpi[data-window='30'] [data-kpi=value]") != "KES 0"
    page.shot("dashboard-demo")

    page.click("#stk a:has-text('1032')")
    page.wait_for_selector("#figure-rows[data-figure=deposits]")
    assert "Request cancelled by user" in page.inner_text("#figure-rows")
    page.shot("deposits-cancelled")

    page.goto(f"{live_server.url}/console")
    page.click("a:has-text('merchant payments')")
    page.wait_for_selector("#figure-rows[data-figure=movements]")
    kinds = page.locator("#figure-rows tbody td:nth-child(3)").all_inner_texts()
    assert kinds and set(kinds) == {"merchant_payment"}
    page.shot("merchant-payments")

    page.goto(f"{live_server.url}/console")
    page.click(".kpi[data-window='30'] [data-kpi=registrations]")
    page.wait_for_selector("#figure-rows[data-figure=registrations]")
    names = page.locator("#figure-rows tbody td:nth-child(3)").all_inner_texts()
    assert names and all(name.startswith("Demo ") for name in names)
    page.shot("registrations")
