"""The Idempotency-Key every merchant POST takes (app/services/merchant_idempotency.py):
a route that writes declares `key: MerchantIdempotencyKey`, and a request without one is
refused before anything is done (400 `idempotency_key_required`)."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Header

from app.errors import IdempotencyKeyRequired, refused
from app.services.ledger import MAX_KEY_LENGTH

HEADER = "Idempotency-Key"
_KEY = re.compile(rf"[\x21-\x7e]{{1,{MAX_KEY_LENGTH}}}")  # printable ASCII, no space


async def _idempotency_key(
    key: Annotated[
        str | None,
        Header(
            alias=HEADER,
            description="required: a fresh random key per request (e.g. a UUID); send it"
            " again to retry, and the first answer comes back",
            examples=["3f1c2a9e-5b7d-4c1e-9a0b-6d2e8f4c7a15"],
        ),
    ] = None,
) -> str:
    if not key:
        raise IdempotencyKeyRequired(f"send an {HEADER} header with every POST")
    if _KEY.fullmatch(key) is None:
        raise refused(
            "invalid_idempotency_key",
            f"{HEADER}: 1 to {MAX_KEY_LENGTH} printable ASCII characters, no spaces",
        )
    return key


MerchantIdempotencyKey = Annotated[str, Depends(_idempotency_key)]
