"""The ASGI application: USSD, REST, callbacks and (in development) sandboxes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from app.api import (
    admin,
    admin_audit,
    admin_bills,
    admin_callbacks,
    admin_lock_order,
    admin_merchants,
    admin_mpesa,
    admin_mpesa_reconciliation,
    admin_stellar,
    airtime_callbacks,
    callbacks,
    health,
    metrics,
    mpesa_callbacks,
)
from app.api.callback_store import MAX_CALLBACK_BYTES
from app.api.dev_wiring import mount_sandboxes
from app.api.errors import install_error_handlers
from app.api.http_metrics import HttpMetrics
from app.api.merchant import me as merchant_me
from app.api.merchant import orders as merchant_orders
from app.api.merchant import pay_requests as merchant_pay_requests
from app.api.merchant import payments as merchant_payments
from app.api.merchant import payouts as merchant_payouts
from app.api.merchant import refunds as merchant_refunds
from app.api.merchant import webhooks as merchant_webhooks
from app.api.request_id import RequestId
from app.api.source_networks import SourceNetworks, rules_from_settings
from app.api.v1 import auth as v1_auth
from app.api.v1 import bills as v1_bills
from app.api.v1 import campaigns as v1_campaigns
from app.api.v1 import contributions as v1_contributions
from app.api.v1 import me as v1_me
from app.api.v1 import mpesa as v1_mpesa
from app.api.v1 import payments as v1_payments
from app.api.v1 import pledges as v1_pledges
from app.api.v1 import schedules as v1_schedules
from app.api.v1 import transfers as v1_transfers
from app.api.v1 import wage_schedules as v1_wage_schedules
from app.api.v1 import wages as v1_wages
from app.api.v1 import wallet as v1_wallet
from app.api.v1.context import ApiServices
from app.config import Settings, get_settings
from app.console import campaigns as console_campaigns
from app.console import figures as console_figures
from app.console import lock_order as console_lock_order
from app.console import merchant_forms as console_merchant_forms
from app.console import merchants as console_merchants
from app.console import money as console_money
from app.console import operators as console_operators
from app.console import pages as console_pages
from app.console import promotions as console_promotions
from app.console import reconciliation as console_reconciliation
from app.console import sign_in as console_sign_in
from app.console import wages as console_wages
from app.console.web import STATIC_DIR as CONSOLE_STATIC
from app.db.migrate import migrate_at_start
from app.http.body_limit import BodyLimit
from app.http.fast_path import FastPath
from app.infra.heap import frozen_start_up_heap
from app.logging_setup import configure_logging
from app.runtime import Runtime
from app.services import hop_latency
from app.services.facade import ChannelServices
from app.ussd import routes as ussd_routes
from app.ussd.wiring import build_ussd

log = logging.getLogger("paytrace.api")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_level)
        if settings.migrate_on_start:
            await run_in_threadpool(migrate_at_start, settings.database_url, log)
        runtime = Runtime.from_settings(settings)
        app.state.runtime = runtime
        # One facade for both channels: one PIN-check limit, the same calls.
        services = ChannelServices(runtime)
        app.state.services = services
        app.state.ussd = build_ussd(runtime, services)
        # The REST API shares USSD's profile cache, so that a change made on one
        # channel is seen on the other at once.
        store = app.state.ussd.store
        app.state.api = ApiServices.build(
            services, store.forget_profile, flag_pay_request=store.flag_pay_request
        )
        # The USSD hops' latencies, written from memory every few seconds, never per hop.
        flushing = asyncio.create_task(
            hop_latency.keep_flushing(
                app.state.ussd.latencies, runtime.redis, settings.redis_prefix
            )
        )
        try:
            with frozen_start_up_heap():
                yield
        finally:
            flushing.cancel()
            with suppress(asyncio.CancelledError):
                await flushing
            await runtime.close()

    app = FastAPI(
        title="PayTrace",
        version="0.1.0",
        description="USSD-first mobile money with Stellar custody.",
        lifespan=lifespan,
        # PayTrace's metrics are Prometheus's (app/infra/metrics.py) and it configures
        # no OpenTelemetry provider, so FastAPI's own telemetry never recorded anything;
        # left on, it still asked OpenTelemetry (the environment included) whether a
        # provider had appeared on every request, about 3 % of a USSD hop.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    install_error_handlers(app)
    # Every entry point has a body cap: /api's own, the callbacks' (far above anything
    # AT or Daraja sends), and /ussd caps its own so that it can answer a screen.
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.api_max_body_bytes,
        limits={"/callbacks/": MAX_CALLBACK_BYTES},
        exempt=("/ussd",),
    )
    if settings.cors_allow_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_allow_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
            expose_headers=["Retry-After", "Idempotent-Replayed", "X-Request-ID"],
            max_age=600,
        )
    # Next to outermost: a caller from outside a provider's networks is refused before
    # anything (its body included) is read.
    app.add_middleware(
        SourceNetworks,
        rules=rules_from_settings(settings),
        trusted_proxies=settings.trusted_proxies,
    )
    # Counts every answer (a 403 or 413 from the layers inside it too), by route template.
    app.add_middleware(HttpMetrics)
    # Outermost: every answer carries X-Request-ID (a 403 from SourceNetworks, a 413 from
    # BodyLimit and CORS's own too).
    app.add_middleware(RequestId)
    # Ahead of everything, a USSD hop takes a lean path: the same guards as above that
    # apply to /ussd (request id, metrics, source networks; /ussd caps its own body,
    # CORS only matters to a browser's hop, which goes the long way), then the route's
    # own handler, without the router's and FastAPI's cost (docs/benchmarks.md).
    ussd_guarded = SourceNetworks(
        ussd_routes.hop_endpoint,
        rules=rules_from_settings(settings),
        trusted_proxies=settings.trusted_proxies,
    )
    app.add_middleware(
        FastPath, claim=ussd_routes.claim_hop, fast=RequestId(HttpMetrics(ussd_guarded))
    )
    # USSD first: the router tries routes in order, and each included router scans its
    # own; with /ussd last every hop paid about 0.3 ms to be matched (docs/benchmarks.md).
    app.include_router(ussd_routes.router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(callbacks.router)
    app.include_router(mpesa_callbacks.router)
    app.include_router(airtime_callbacks.router)
    app.include_router(mpesa_callbacks.c2b_router)
    for v1 in (v1_auth, v1_me, v1_wallet, v1_transfers, v1_payments, v1_schedules):
        app.include_router(v1.router)
    app.include_router(v1_transfers.invitations)
    app.include_router(v1_mpesa.deposits_router)
    app.include_router(v1_mpesa.withdrawals_router)
    app.include_router(v1_bills.router)
    app.include_router(v1_wages.router)
    app.include_router(v1_wages.payslips)
    app.include_router(v1_wage_schedules.router)
    for harambee in (v1_campaigns, v1_contributions, v1_pledges):
        app.include_router(harambee.router)
    app.include_router(admin.router)
    app.include_router(admin_callbacks.router)
    app.include_router(admin_audit.router)
    app.include_router(admin_mpesa.router)
    app.include_router(admin_mpesa_reconciliation.router)
    app.include_router(admin_stellar.router)
    app.include_router(admin_lock_order.router)
    app.include_router(admin_bills.router)
    app.include_router(admin_merchants.router)
    app.include_router(merchant_me.router)
    app.include_router(merchant_orders.router)
    app.include_router(merchant_payments.router)
    app.include_router(merchant_payouts.router)
    app.include_router(merchant_refunds.router)
    app.include_router(merchant_pay_requests.router)
    app.include_router(merchant_webhooks.router)
    # The operator console: server-rendered pages, its static files (Chart.js vendored).
    app.include_router(console_sign_in.pages)
    app.include_router(console_sign_in.actions)
    app.include_router(console_pages.router)
    app.include_router(console_figures.router)
    app.include_router(console_money.router)
    app.include_router(console_merchants.router)
    app.include_router(console_merchant_forms.router)
    app.include_router(console_lock_order.router)
    app.include_router(console_campaigns.router)
    app.include_router(console_operators.router)
    app.include_router(console_reconciliation.router)
    app.include_router(console_wages.router)
    app.include_router(console_promotions.router)
    app.mount("/console/static", StaticFiles(directory=CONSOLE_STATIC), name="console_static")
    mount_sandboxes(app, settings)
    return app
