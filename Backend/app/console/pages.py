"""The console's pages: dashboard, users (find, unlock a PIN), the audit trail."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import JSONResponse

from app.console.trail import Console, ConsoleRoute, Operating, Viewer
from app.console.web import SECURITY_HEADERS, reason_of, redirect
from app.domain.money import NAIROBI
from app.domain.phone import InvalidPhone, normalise
from app.domain.records.admin import AuditFilter
from app.errors import refused
from app.services import (
    admin_audit,
    console_rails,
    console_reconciliation,
    console_users,
    hop_latency,
)
from app.services.admin_audit import REASON_MAX

router = APIRouter(prefix="/console", include_in_schema=False, route_class=ConsoleRoute)

AUDIT_PAGE = 50
ACTOR = r"^[a-z]+(:[0-9a-f]{1,32})?$"  # operator:12, token:3f9a2c81d4e0, anonymous


@router.get("", name="dashboard")
async def dashboard(console: Viewer) -> Response:
    seen = await console.read(console_rails.overview)
    recon = await console.read(console_reconciliation.overview)
    hops = await _hop_latency(console)
    return console.page(
        "dashboard.html",
        figures=seen.figures,
        rails=seen.rails,
        positions=seen.positions,
        groups=(*console_rails.KIND_GROUPS, console_rails.OTHER),
        stk_meanings=console_rails.STK_MEANINGS,
        recon=recon,
        hops=hops,
        nairobi=NAIROBI,
    )


async def _hop_latency(console: Console) -> list[hop_latency.HourOfHops]:
    runtime = console.runtime
    return await hop_latency.hourly(runtime.redis, runtime.settings.redis_prefix)


@router.get("/hop_latency.json", name="hop_latency_data")
async def hop_latency_data(console: Viewer) -> Response:
    """USSD hops per hour over the last 24 hours (every hour, the current one last) and
    their 50th, 95th and 99th percentiles in milliseconds (null: no hop that hour), each
    the upper bound of the histogram bucket holding it."""
    hours = await _hop_latency(console)
    return JSONResponse(
        {
            "hours": [h.hour.isoformat() for h in hours],
            "labels": [h.hour.astimezone(NAIROBI).strftime("%H:00") for h in hours],
            "hops": [h.hops for h in hours],
            "p50_ms": [h.p50_ms for h in hours],
            "p95_ms": [h.p95_ms for h in hours],
            "p99_ms": [h.p99_ms for h in hours],
            "bucket_bounds_ms": [round(b * 1000) for b in hop_latency.BOUNDS_S],
        },
        headers=SECURITY_HEADERS,
    )


@router.get("/dashboard.json", name="dashboard_data")
async def dashboard_data(console: Viewer) -> Response:
    """The daily series the dashboard's chart draws (cents and counts by Nairobi day),
    in total and stacked by kind."""
    series = await console.read(console_rails.daily_by_kind)
    days = range(len(series.days))
    return JSONResponse(
        {
            "days": [day.isoformat() for day in series.days],
            "value": [sum(v[n] for v in series.groups.values()) for n in days],
            "count": [sum(c[n] for c in series.counts.values()) for n in days],
            "stacks": series.groups,
        },
        headers=SECURITY_HEADERS,
    )


@router.get("/reconciliation.json", name="reconciliation_data")
async def reconciliation_data(console: Viewer) -> Response:
    """The dashboard's reconciliation chart: by Nairobi day over 30 days, the parties
    drifting at the day's last ledger-against-Stellar run (and the most at any run) and
    the day's latest M-Pesa report's differences; null: no report that day."""
    now = datetime.now(UTC)
    seen = await console.read(console_reconciliation.overview, now)
    series = console_reconciliation.drift_by_day(seen, now)
    return JSONResponse(
        {
            "days": [day.isoformat() for day in series.days],
            "stellar_drifting": list(series.stellar_drifting),
            "stellar_most": list(series.stellar_most),
            "mpesa_differences": list(series.mpesa_differences),
        },
        headers=SECURITY_HEADERS,
    )


@router.get("/users", name="find_user")
async def users(
    console: Viewer,
    q: Annotated[str, Query(max_length=32)] = "",
    unlocked: Annotated[str | None, Query(max_length=8)] = None,
) -> Response:
    card = None
    if q.strip():
        console.audit.detail["query"] = q.strip()
        card = await console.run(console_users.find, q)
        if card is not None:
            console.audit.target("user", card.overview.profile.phone)
    return console.page(
        "users.html",
        q=q,
        card=card,
        unlocked=unlocked,
        csrf=console.session.csrf,
        may_act=console.session.role != "viewer",
        reason_max=REASON_MAX,
    )


@router.post("/users/{phone}/unlock", name="unlock_pin")
async def unlock_pin(phone: Annotated[str, Path(max_length=20)], console: Operating) -> Response:
    try:
        phone = normalise(phone)
    except InvalidPhone:
        raise refused("invalid_phone", "not a phone number") from None
    console.audit.target("user", phone)
    console.audit.reason = reason_of(console.form)
    unlocked = await console.run(
        console_users.unlock_pin,
        phone=phone,
        # One SMS per unlock that cleared something, as the admin API's unlock.
        dedupe_key=f"pin_unlocked:console:{uuid.uuid4().hex}",
    )
    console.audit.detail["unlocked"] = unlocked
    done = "yes" if unlocked else "nothing"
    return redirect(f"/console/users?q={quote(phone)}&unlocked={done}")


@router.get("/audit", name="audit_log")
async def audit_log(
    console: Viewer,
    actor: Annotated[
        str | None, Query(max_length=64, pattern=r"^[a-z]+(:[0-9a-f]{1,32})?$")
    ] = None,
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> Response:
    rows, more = await console.run(
        admin_audit.page, AuditFilter(actor=actor), limit=AUDIT_PAGE, before_id=before
    )
    older = rows[-1].id if more and rows else None
    return console.page("audit.html", rows=rows, actor=actor, older=older)
