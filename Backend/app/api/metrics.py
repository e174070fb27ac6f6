"""GET /metrics: Prometheus's text format, this process's counters (every process's
with PROMETHEUS_MULTIPROC_DIR) and the figures PostgreSQL holds (docs/operations.md)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from app.http.error_body import error_body
from app.http.tokens import token_matches
from app.infra.metrics import CONTENT_TYPE, Figures, exposition
from app.services import metrics_figures

router = APIRouter(include_in_schema=False)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    runtime = request.app.state.runtime
    settings = runtime.settings
    if settings.metrics_token is not None:
        auth = request.headers.get("authorization", "")
        given = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        if not token_matches(settings.metrics_token, given):
            return JSONResponse(error_body("unauthorized", "metrics token"), status_code=401)
    elif settings.environment == "production":
        return JSONResponse(error_body("not_found", "no such route"), status_code=404)
    figures = await request.app.state.services.run(metrics_figures.read)
    return Response(exposition([Figures(figures)]), media_type=CONTENT_TYPE)
