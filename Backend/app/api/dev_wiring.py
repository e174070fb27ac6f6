"""What the API mounts in development only: the local stand-ins for AT's SMS and
Airtime APIs, and the web phone.

The production app never imports a sandbox: this is the one module of the API that
may (the import contract in pyproject.toml holds it), and it imports a sandbox only
when the settings ask for it (no AT API key, never in production).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app.config import Settings


def mount_sandboxes(app: FastAPI, settings: Settings) -> None:
    """Mount the AT SMS and Airtime sandboxes' routes when `settings.sms_sandbox_enabled`,
    and the web phone (`/sandbox/phone`) whenever the environment is not production."""
    if settings.environment == "production":
        return
    from app.sandboxes import web_phone

    app.include_router(web_phone.router)
    app.mount(
        "/sandbox/phone/static", StaticFiles(directory=web_phone.STATIC_DIR), name="web_phone"
    )
    if not settings.sms_sandbox_enabled:
        return
    from app.sandboxes import at_airtime, at_sms

    app.include_router(at_sms.router)
    app.include_router(at_airtime.router)
