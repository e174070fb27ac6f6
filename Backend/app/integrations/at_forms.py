"""Africa's Talking speaks application/x-www-form-urlencoded in both directions.

Parsed with the standard library: python-multipart is not a dependency, and AT
never sends multipart bodies.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


class MalformedForm(ValueError):
    """The body is not a well-formed url-encoded form."""


def parse_form(content_type: str | None, body: bytes) -> dict[str, str]:
    """Decode an AT form body (last value wins); raises MalformedForm."""
    if (content_type or "").split(";")[0].strip().lower() != FORM_CONTENT_TYPE:
        raise MalformedForm(f"expected {FORM_CONTENT_TYPE}")
    try:
        # Lenient like AT's own clients (a stray '&' is fine); callers check fields.
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedForm("body is not a valid url-encoded form") from exc
    return dict(pairs)
