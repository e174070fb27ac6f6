"""Bills and airtime over REST, as the PWA pays them (docs/bills.md): the billers, an
account checked, a quote, the payment (Idempotency-Key and the PIN, as Send money) and
the user's payments.

`POST /payments` answers 202: the amount and fee are held at once and the biller is paid
by the worker; `GET` tells how it ended. The same key with the same body answers the
original again (`Idempotent-Replayed: true`) and moves nothing; with another body it is
refused (409).
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from app.api.cursors import decode_cursor, encode_cursor
from app.api.v1.bills_models import (
    AccountIn,
    AccountOut,
    BillerOut,
    BillPaymentOut,
    BillPaymentPage,
    PayIn,
    QuoteIn,
    QuoteOut,
)
from app.api.v1.context import Api, CurrentUser
from app.api.v1.responses import COMMON, SIGNED_IN, errors
from app.api.v1.transfers import IdempotencyKey
from app.services.bills import catalogue, payments
from app.services.keys import keyed_digest

log = logging.getLogger("paytrace.api")

router = APIRouter(prefix="/api/v1/bills", tags=["bills"], responses={**COMMON, **SIGNED_IN})

REFERENCE = Annotated[
    str, Path(min_length=10, max_length=10, pattern=r"^[A-Z2-9]{10}$", examples=["K7QX2M9PLA"])
]
_CURSOR = "bills"


@router.get("/billers", summary="The billers I can pay")
async def list_billers(api: Api, caller: CurrentUser) -> list[BillerOut]:
    """In screen order; `payable` false: listed, but not open for payment yet."""
    del caller  # signed in: the catalogue is the same for everyone
    rails = api.services.settings.bill_rails
    return [BillerOut.of(b, rails) for b in await api.services.run(catalogue.list_billers)]


@router.post("/validate", summary="Check an account before paying", responses=errors(404))
async def validate_account(body: AccountIn, api: Api, caller: CurrentUser) -> AccountOut:
    """The account as it will be paid. Errors: `biller_not_found` (404),
    `invalid_account` / `not_on_network` (422; a Paybill account its biller does not
    know is `invalid_account`). For Paybill billers the biller names the account's
    holder (`looked_up` true); when it cannot be asked now, only the form is checked."""
    del caller
    check = await api.services.run(
        catalogue.validate_account,
        biller_code=body.biller,
        account=body.account,
        lookup=api.services.daraja,
    )
    return AccountOut.of(check)


@router.post("/quote", summary="The fee of a bill, before the PIN", responses=errors(404))
async def quote_bill(body: QuoteIn, api: Api, caller: CurrentUser) -> QuoteOut:
    """Nothing moves; the limits and the balance are checked too. Errors as paying,
    without the PIN's."""
    quote = await api.services.run(
        catalogue.quote_bill,
        user_id=caller.user_id,
        biller_code=body.biller,
        account=body.account,
        amount=body.amount,
    )
    return QuoteOut.of(quote)


@router.post(
    "/payments",
    summary="Pay a bill or buy airtime",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        **errors(403, 404, 409),
        202: {"description": "held; the biller is paid by the worker (a replay says so)"},
    },
)
async def pay_bill(
    body: PayIn,
    response: Response,
    api: Api,
    caller: CurrentUser,
    idempotency_key: IdempotencyKey,
) -> BillPaymentOut:
    """`amount` plus its fee leave the wallet at once (held); delivered, they are spent
    and the receipt comes by SMS; failed, they come back. Errors: `wrong_pin` (401),
    `pin_locked` (403), `biller_not_found` (404), `idempotency_key_reused` /
    `biller_unavailable` (409), `invalid_account` / `not_on_network` / `invalid_amount` /
    `insufficient_funds` / `limit_exceeded` (422)."""
    request = payments.BillRequest(
        user_id=caller.user_id,
        biller_code=body.biller,
        account=body.account,
        amount=body.amount,
        idempotency_key=f"api:{idempotency_key}",
        channel="api",
    )
    # As for transfers: a retry with the same PIN replays, a corrected PIN is a new try.
    pin_digest = keyed_digest(api.attempt_key, idempotency_key, body.pin)
    held = await api.services.run_pin(
        payments.pay_bill,
        request,
        pin=body.pin,
        attempt_key=f"api-bill:{caller.user_id}:{idempotency_key}:{pin_digest}",
        open_rails=api.services.settings.bill_rails,
    )
    if held.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    else:
        log.info("api bill payment", extra={"bill": held.payment.reference})
    return BillPaymentOut.of(held.payment, held.balance)


@router.get("/payments", summary="My bill payments, newest first")
async def list_payments(
    api: Api,
    caller: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=payments.MAX_HISTORY)] = 20,
    cursor: Annotated[
        str | None, Query(max_length=40, description="`next_cursor` of the previous page")
    ] = None,
) -> BillPaymentPage:
    """Cursor-paginated: pass `next_cursor` back as `cursor` until it is null."""
    # Shown, not decided on: from the read replica when there is one.
    rows, more = await api.services.read(
        payments.bill_history,
        user_id=caller.user_id,
        before_id=decode_cursor(_CURSOR, cursor),
        limit=limit,
    )
    return BillPaymentPage(
        items=[BillPaymentOut.of(p) for p in rows],
        next_cursor=encode_cursor(_CURSOR, rows[-1].id) if more and rows else None,
    )


@router.get("/payments/{payment_id}", summary="One of my bill payments", responses=errors(404))
async def get_payment(payment_id: REFERENCE, api: Api, caller: CurrentUser) -> BillPaymentOut:
    """Where it stands; another user's payment is answered as absent
    (`bill_payment_not_found`)."""
    found = await api.services.run(
        payments.get_bill_payment, reference=payment_id, user_id=caller.user_id
    )
    return BillPaymentOut.of(found)
