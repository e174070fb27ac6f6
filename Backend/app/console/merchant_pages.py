"""The merchants list and a merchant's page as the console draws them, with a form's
error (and what was typed) when a form is answered with the page again, and a new key's
secret in the one answer that issues it."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from fastapi import Response

from app.console.trail import Console
from app.domain import merchants as rules
from app.errors import NotFound, PayTraceError
from app.services import console_merchants, merchants
from app.services.admin_audit import REASON_MAX
from app.services.merchant_keys import IssuedKey

MERCHANTS_PAGE = 50


@dataclass(frozen=True)
class FormError:
    """A refused form: which one, the error's code and what to tell the operator."""

    form: str  # onboard | edit | keys | payout
    code: str
    detail: str

    @classmethod
    def of(cls, form: str, exc: PayTraceError) -> FormError:
        return cls(form, exc.code, exc.detail)


def payout_nonce() -> str:
    """A fresh nonce for a payout form: the form posted twice names one payout."""
    return secrets.token_hex(16)


def _common(console: Console, error: FormError | None, values: dict[str, str] | None) -> dict:
    if error is not None:
        console.audit.detail["error"] = error.code
    return {
        "csrf": console.session.csrf,
        "error": error,
        "values": values or {},
        "may_act": console.session.role != "viewer",
        "may_admin": console.session.role == "admin",
        "schedules": rules.PAYOUT_SCHEDULES,
        "languages": rules.LANGUAGES,
        "name_min": rules.DISPLAY_NAME_MIN,
        "name_max": rules.DISPLAY_NAME_MAX,
    }


async def list_page(
    console: Console,
    before: int | None = None,
    *,
    error: FormError | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    rows, more = await console.run(merchants.page, limit=MERCHANTS_PAGE, before_id=before)
    return console.page(
        "merchants.html",
        status_code=status_code,
        rows=rows,
        older=rows[-1].id if more and rows else None,
        **_common(console, error, values),
    )


async def merchant_page(
    console: Console,
    merchant_id: int,
    *,
    done: str | None = None,
    error: FormError | None = None,
    values: dict[str, str] | None = None,
    issued: IssuedKey | None = None,
    status_code: int = 200,
) -> Response:
    card = await console.run(console_merchants.card, merchant_id)
    if card is None:
        raise NotFound("no such merchant")
    return console.page(
        "merchant.html",
        status_code=status_code,
        card=card,
        done=done,
        issued=issued,
        nonce=payout_nonce(),
        reason_max=REASON_MAX,
        max_keys=rules.MAX_LIVE_KEYS,
        **_common(console, error, values),
    )
