"""What the API mounts in development only: the local stand-ins for AT's SMS and
Airtime APIs.

The production app never imports a sandbox: this is the one module of the API that
may (the import contract in pyproject.toml holds it), and it imports the sandbox only
when the settings ask for it (no AT API key, never in production).
"""

from __future__ import annotations

from fastapi import FastAPI

from app.config import Settings


def mount_sandboxes(app: FastAPI, settings: Settings) -> None:
    """Mount the AT SMS and Airtime sandboxes' routes when `settings.sms_sandbox_enabled`."""
    if not settings.sms_sandbox_enabled:
        return
    from app.sandboxes import at_airtime, at_sms

    app.include_router(at_sms.router)
    app.include_router(at_airtime.router)
