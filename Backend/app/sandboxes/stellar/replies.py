"""How the local network's routes answer: HAL JSON and RFC 7807 problems, as Horizon."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse

from app.sandboxes.stellar import problems, resources


def base_url(request: Request) -> str:
    """Links are absolute, as Horizon's are."""
    return str(request.base_url).rstrip("/")


def hal(body: dict, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=resources.HAL_JSON)


def problem(body: dict) -> JSONResponse:
    return JSONResponse(body, status_code=body["status"], media_type=problems.PROBLEM_JSON)
