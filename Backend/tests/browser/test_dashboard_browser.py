"""The dashboard in a real browser on the demo's history (written small through the real
services): the stacked chart drawn, the rails and positions shown, the USSD hop latency
of hours of hops the test feeds, the reconciliation drift chart drawn, and a figure
followed to the rows behind it. A screenshot of each page is kept (see conftest.py)."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from app.db.unit_of_work import UnitOfWork
from app.runtime import redis_client
from app.services import demo, hop_latency
from tests.browser.conftest import artifacts_dir
from tests.browser.test_console_browser import canvas_is_blank
from tests.support.console import PASSWORD, make_operator


def feed_hops(settings) -> int:
    """A day of hops as an API process counts them: navigation in milliseconds, a few
    money hops slower, busier by day; written as its flusher writes them."""
    hours, counts = int(time.time() // 3600), hop_latency.HopLatencies()
    for back in range(24):
        local = (hours - back + 3) % 24  # Nairobi's hour
        busy = 20 + 15 * min(local, 24 - local)  # busiest around noon
        slow = 0.08 + 0.004 * (busy // 4)  # the money hops wait longer when busy
        for n in range(busy):
            fast = (0.003, 0.004, 0.008, 0.015, 0.03)[n % 5]
            seconds = slow * 3 if n % 40 == 0 else slow if n % 10 == 5 else fast
            counts.record(seconds, at=(hours - back) * 3600 + 60 * (n % 50))

    async def flush() -> int:
        redis = redis_client(settings)
        try:
            return await hop_latency.flush(counts, redis, settings.redis_prefix)
        finally:
            await redis.aclose()

    # In a thread of its own: Playwright keeps an event loop running in this one.
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(lambda: asyncio.run(flush())).result()


def test_the_dashboard_draws_the_demo_history_and_drills_down_to_rows(
    page, live_server, live_settings, clean_database
):
    demo.fill(
        lambda: UnitOfWork(clean_database), live_settings, users=20, days=3, now=datetime.now(UTC)
    )
    fed = feed_hops(live_settings)
    with UnitOfWork(clean_database) as uow:  # a reconciliation run that found one drifting
        now = datetime.now(UTC)
        uow.reconciliation.add_report(
            started_at=now, finished_at=now, accounts=20, drifts=1, report={"drifting": []}
        )
        uow.commit()
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
    assert page.inner_text(".kpi[data-window='1'] [data-kpi=count]") != "0"  # up to today
    page.wait_for_selector("canvas#hops[data-drawn=yes]")
    rows = page.locator("#hop-latency tbody tr")
    assert rows.count() == 24
    hops = [int(t) for t in page.locator("#hop-latency tbody td:nth-child(2)").all_inner_texts()]
    assert sum(hops) == fed
    page.wait_for_selector("canvas#drift[data-drawn=yes]")
    assert not canvas_is_blank(page, "drift")
    page.shot("dashboard-demo")
    page.locator("#hop-latency").screenshot(path=str(artifacts_dir() / "hop-latency.png"))

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
