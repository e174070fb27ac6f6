"""The console's forms that change merchants, through the services the admin API calls:
onboard and edit a merchant, issue and revoke its API keys (admin), and pay its balance
out to its M-Pesa (operator).

A refused form answers the page again with the error and what was typed (never a 500);
its audit row says `refused` with the error's code. A key's secret is in the one answer
that issues it, never in a URL, the trail or a log. A payout's form carries a nonce
that becomes its idempotency key (the admin API's mechanism, scoped 'admin'), so a form
posted twice makes one payout.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from app.console.merchant_pages import FormError, list_page, merchant_page
from app.console.sign_in import credentials_of
from app.console.trail import Admin, ConsoleRoute, Operating
from app.console.web import reason_of, redirect
from app.domain.merchants import FeeRule
from app.domain.money import InvalidAmount, parse_shillings
from app.errors import Conflict, ValidationFailed, refused
from app.services import merchant_keys, merchants
from app.services.mpesa import merchant_payouts

log = logging.getLogger("paytrace.console")

router = APIRouter(prefix="/console", include_in_schema=False, route_class=ConsoleRoute)

MerchantId = Annotated[int, Path(ge=1, le=2**63 - 1)]
KeyId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_]+$")]
# What a form may be answered again for; anything else (no such merchant, the database
# away) is the console's refusal page.
FORM_REFUSALS = (ValidationFailed, Conflict)
_WHOLE = re.compile(r"-?[0-9]{1,15}")
_NONCE = re.compile(r"[0-9a-f]{32}")
TEXT_FIELDS = ("legal_name", "display_name", "contact_phone", "payout_phone")
CHOICE_FIELDS = ("payout_schedule", "language")
FEE_FIELDS = ("fee_bps", "fee_min_cents", "fee_max_cents")
FLOOR_FIELDS = {
    "payout_keep_cents": "invalid_payout_keep",
    "payout_threshold_cents": "invalid_payout_threshold",
}


def _whole(form: dict[str, str], name: str, code: str) -> int | None:
    """The field as a whole number; None when left empty. Raises ValidationFailed."""
    raw = form.get(name, "").strip()
    if not raw:
        return None
    if _WHOLE.fullmatch(raw) is None:
        raise refused(code, f"{name}: a whole number")
    return int(raw)


def _typed(form: dict[str, str]) -> dict[str, str]:
    """What the operator typed, to fill the form again (never the CSRF token)."""
    return {name: value for name, value in form.items() if name not in ("csrf", "nonce")}


def application_of(form: dict[str, str]) -> merchants.Application:
    """The onboarding form as the admin API's Application; the service checks the rest.
    Raises ValidationFailed ('invalid_fee')."""
    fee = [_whole(form, name, "invalid_fee") for name in FEE_FIELDS]
    if fee[0] is None or fee[2] is None:
        raise refused("invalid_fee", "give the fee in basis points and its cap in cents")
    return merchants.Application(
        legal_name=form.get("legal_name", ""),
        display_name=form.get("display_name", ""),
        till_number=form.get("till_number", "").strip(),
        contact_phone=form.get("contact_phone", ""),
        payout_phone=form.get("payout_phone", ""),
        payout_schedule=form.get("payout_schedule", "on_request"),
        fee=FeeRule(fee[0], fee[1] or 0, fee[2]),
        language=form.get("language", "en"),
    )


def changes_of(form: dict[str, str]) -> merchants.Changes:
    """The edit form as the admin API's Changes: an empty field stays as it is. Raises
    ValidationFailed ('invalid_fee', 'invalid_payout_keep', 'invalid_payout_threshold')."""
    given: dict[str, object] = {
        name: form[name] for name in (*TEXT_FIELDS, *CHOICE_FIELDS) if form.get(name, "").strip()
    }
    for name in FEE_FIELDS:
        given[name] = _whole(form, name, "invalid_fee")
    for name, code in FLOOR_FIELDS.items():
        given[name] = _whole(form, name, code)
    return merchants.Changes(**given)  # type: ignore[arg-type]


@router.post("/merchants", name="onboard_merchant")
async def onboard(console: Admin) -> Response:
    """Onboard a merchant: the admin API's onboarding (idempotent on the till: the same
    form posted twice answers the merchant it made)."""
    form = console.form
    till = form.get("till_number", "").strip()
    console.audit.target("till", till[:20] if till.isdigit() and till.isascii() else "unreadable")
    try:
        done = await console.run(merchants.onboard, application_of(form))
    except FORM_REFUSALS as exc:
        error = FormError.of("onboard", exc)
        return await list_page(
            console, error=error, values=_typed(form), status_code=exc.status_code
        )
    if done.replayed:  # nothing committed: the row written after the answer says so
        console.audit.detail["replayed"] = True
    return redirect(f"/console/merchants/{done.merchant.id}?done=onboarded")


@router.post("/merchants/{merchant_id}/edit", name="edit_merchant")
async def edit(merchant_id: MerchantId, console: Admin) -> Response:
    """Change what the admin API's PATCH changes, each field checked as at onboarding."""
    form = console.form
    console.audit.target("merchant", str(merchant_id))
    try:
        changes = changes_of(form)
        console.audit.detail["fields"] = sorted(
            name for name in changes.__slots__ if getattr(changes, name) is not None
        )
        await console.run(merchants.update, merchant_id, changes)
    except FORM_REFUSALS as exc:
        return await merchant_page(
            console,
            merchant_id,
            error=FormError.of("edit", exc),
            values=_typed(form),
            status_code=exc.status_code,
        )
    return redirect(f"/console/merchants/{merchant_id}?done=edited")


@router.post("/merchants/{merchant_id}/keys", name="issue_merchant_key")
async def issue_key(request: Request, merchant_id: MerchantId, console: Admin) -> Response:
    """A new live key; its secret is in this answer only (Cache-Control: no-store)."""
    _, box = credentials_of(request)
    key_id = merchant_keys.new_key_id()
    console.audit.target("merchant", str(merchant_id))
    console.audit.detail["key_id"] = key_id  # the id, never the secret; before the commit
    try:
        issued = await console.run(merchant_keys.issue_key, box, merchant_id, key_id)
    except FORM_REFUSALS as exc:
        return await merchant_page(
            console, merchant_id, error=FormError.of("keys", exc), status_code=exc.status_code
        )
    log.info("merchant key issued", extra={"merchant_id": merchant_id, "key_id": key_id})
    return await merchant_page(console, merchant_id, done="key_issued", issued=issued)


@router.post("/merchants/{merchant_id}/keys/{key_id}/revoke", name="revoke_merchant_key")
async def revoke_key(merchant_id: MerchantId, key_id: KeyId, console: Admin) -> Response:
    """The key signs nothing from now on; revoking a revoked key changes nothing."""
    console.audit.target("merchant", str(merchant_id))
    console.audit.detail["key_id"] = key_id
    await console.run(merchant_keys.revoke_key, merchant_id, key_id, datetime.now(UTC))
    return redirect(f"/console/merchants/{merchant_id}?done=key_revoked")


def _payout_amount(form: dict[str, str]) -> int | None:
    """Whole shillings as cents; empty: all that is available. Raises ValidationFailed."""
    raw = form.get("amount", "").strip()
    if not raw:
        return None
    try:
        return parse_shillings(raw)
    except InvalidAmount:
        raise refused("invalid_amount", "the amount is whole shillings, or empty for all") from None


@router.post("/merchants/{merchant_id}/payouts", name="request_merchant_payout")
async def request_payout(merchant_id: MerchantId, console: Operating) -> Response:
    """Pay the merchant's balance (or an amount of it) out to its payout phone: the admin
    API's payout, keyed by the form's nonce, so a form posted twice makes one payout."""
    form = console.form
    console.audit.target("merchant", str(merchant_id))
    try:
        nonce = form.get("nonce", "")
        if _NONCE.fullmatch(nonce) is None:
            raise refused("invalid_form", "the form is incomplete: reload the page and retry")
        console.audit.reason = reason_of(form)
        amount = _payout_amount(form)
        console.audit.detail["amount"] = "all" if amount is None else amount
        answer = await console.run(
            merchant_payouts.request_payout,
            merchant_id,
            f"console:{nonce}",
            amount,
            result_wait_s=console.runtime.settings.mpesa_result_wait_s,
            now=datetime.now(UTC),
            origin="admin",
        )
    except FORM_REFUSALS as exc:
        return await merchant_page(
            console,
            merchant_id,
            error=FormError.of("payout", exc),
            values=_typed(form),
            status_code=exc.status_code,
        )
    console.audit.detail["payout"] = answer.body.get("id")
    if answer.replayed:  # the same form again: nothing committed, the row after says so
        console.audit.detail["replayed"] = True
    return redirect(f"/console/merchants/{merchant_id}?done=payout")
