"""Opaque page cursors, one format for every list the API pages: the last id on a page,
tagged with the list it belongs to (`<tag>:<id>`, base64url without padding).

A cursor is the caller's input like any other: one this API did not give out (another
list's, an id out of BIGINT's range, junk) is refused as `invalid_cursor`, never passed
to PostgreSQL.
"""

from __future__ import annotations

import base64
import binascii

from app.errors import refused

MAX_ID = 2**63 - 1  # PostgreSQL's BIGINT: a larger id cannot exist


def encode_cursor(tag: str, last_id: int) -> str:
    return base64.urlsafe_b64encode(f"{tag}:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(tag: str, cursor: str | None) -> int | None:
    """The id a cursor of list `tag` carries (None for no cursor). Raises
    ValidationFailed (code 'invalid_cursor')."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        found, _, value = raw.partition(":")
        if found == tag and value.isdigit() and 0 < int(value) <= MAX_ID:
            return int(value)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise refused("invalid_cursor", "the cursor is not one this API gave out")
