"""The USSD hop is the hot path: its route is the first the router tries. Each included
router scans its own routes, so with /ussd last every hop paid about 0.3 ms just to be
matched (docs/benchmarks.md, 2026-12-04)."""

from starlette.routing import Match

from app.api.app import create_app
from app.config import Settings


def test_a_ussd_hop_is_matched_by_the_first_route_tried():
    settings = Settings(
        _env_file=None,
        environment="test",
        database_url="postgresql://nobody@127.0.0.1:1/none",
        redis_url="redis://127.0.0.1:1/0",
    )
    app = create_app(settings)
    # FastAPI's own schema and docs pages come first (single, cheap routes).
    own = {app.openapi_url, app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url}
    for path in ("/ussd", "/ussd/some-token"):
        scope = {"type": "http", "path": path, "method": "POST", "root_path": "", "headers": []}
        tried = []
        for route in app.router.routes:
            if route.matches(scope)[0] is Match.FULL:
                break
            tried.append(getattr(route, "path", type(route).__name__))
        assert set(tried) <= own, (path, tried)
