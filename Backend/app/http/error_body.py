"""The one shape of every error answer: {"error": code, "detail": message}."""

from __future__ import annotations


def error_body(code: str, detail: str) -> dict[str, str]:
    return {"error": code, "detail": detail}
