"""The console's books against the outside: the reconciliation reports (Stellar and
M-Pesa, latest and by day) and PayTrace's own Stellar accounts' balances."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from app.console.sign_in import credentials_of
from app.console.trail import ConsoleRoute, Viewer
from app.integrations.stellar import Horizon
from app.services import console_reconciliation, console_stellar

router = APIRouter(prefix="/console", include_in_schema=False, route_class=ConsoleRoute)


@router.get("/reconciliation", name="reconciliation")
async def reconciliation(console: Viewer) -> Response:
    seen = await console.run(console_reconciliation.overview)
    return console.page("reconciliation.html", r=seen, days=console_reconciliation.HISTORY_DAYS)


@router.get("/stellar", name="stellar_accounts")
async def stellar_accounts(request: Request, console: Viewer) -> Response:
    """Read from Horizon at each request (the issuer, treasury, fee and channels)."""
    settings = console.runtime.settings
    _, box = credentials_of(request)
    network = Horizon.from_settings(settings) if settings.stellar_horizon_url else None
    seen = await run_in_threadpool(console_stellar.balances, network, settings, box)
    console.audit.detail["accounts"] = len(seen.accounts)
    return console.page("stellar.html", seen=seen)
