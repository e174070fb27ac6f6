"""Send money over REST: the same service, limits, fees, PIN lock and SMS as USSD.

`POST /api/v1/transfers` needs an `Idempotency-Key` header: the same key with
the same body answers the original transfer again (and moves nothing); the same
key with another body is refused (409). The PIN confirms every transfer, as on
USSD; a retry with the same PIN counts as one attempt, a corrected PIN as a new one.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from app.api.admin_models import PrintableStr
from app.api.phone_input import e164
from app.api.v1.context import Api, CurrentUser
from app.api.v1.models import Phone, Pin, Strict
from app.api.v1.responses import COMMON, SIGNED_IN, errors
from app.services import transfers
from app.services.keys import keyed_digest
from app.services.ledger import MAX_KEY_LENGTH
from app.services.transfers import MAX_TRANSFER, NOTE_MAX

# The bodies live beside their routes: adding a field to Send money touches this
# module alone on the REST side.


class TransferIn(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"to": "0722000111", "amount": 50000, "note": "rent", "pin": "4821"}]
        },
    )

    to: Phone
    amount: StrictInt = Field(gt=0, le=MAX_TRANSFER, description="cents (50000 = KES 500)")
    note: PrintableStr | None = Field(default=None, max_length=NOTE_MAX)
    pin: Pin = Field(description="the sender's PIN: every money-out is confirmed with it")


class TransferOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "K7QX2M9PLA",
                    "to": "+254722000111",
                    "recipient_name": "Amani Otieno",
                    "amount": 25000,
                    "fee": 500,
                    "balance": 74500,
                    "note": "rent",
                    "created_at": "2026-11-28T16:45:29Z",
                }
            ]
        }
    )

    id: str = Field(description="PayTrace's reference, as in the SMS", examples=["K7QX2M9PLA"])
    to: str = Field(examples=["+254722000111"])
    recipient_name: str = Field(examples=["Amani Otieno"])
    amount: int = Field(description="cents")
    fee: int = Field(description="cents")
    balance: int = Field(description="the sender's balance right after, in cents")
    note: str | None
    created_at: datetime


class QuoteOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "to": "+254722000111",
                    "recipient_name": "Amani Otieno",
                    "amount": 25000,
                    "fee": 500,
                    "total": 25500,
                    "balance": 100000,
                }
            ]
        }
    )

    to: str
    recipient_name: str = Field(description="the registered name: show it before the PIN")
    amount: int
    fee: int
    total: int = Field(description="amount + fee, in cents")
    balance: int = Field(description="the sender's balance now, in cents")


class InvitationIn(Strict):
    phone: Phone


class InvitationOut(BaseModel):
    status: Literal["invited", "already_invited"]


log = logging.getLogger("paytrace.api")

router = APIRouter(
    prefix="/api/v1/transfers", tags=["transfers"], responses={**COMMON, **SIGNED_IN}
)

IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=MAX_KEY_LENGTH,
        pattern=r"^[\x21-\x7e]+$",
        description="a fresh random key per transfer (e.g. a UUID); reuse it to retry",
        examples=["3f1c2a9e-5b7d-4c1e-9a0b-6d2e8f4c7a15"],
    ),
]


@router.get(
    "/quote",
    summary="Check a transfer before the PIN: recipient's name and fee",
    responses=errors(404),
)
async def quote(
    api: Api,
    caller: CurrentUser,
    to: Annotated[str, Query(min_length=1, max_length=32, examples=["0722000111"])],
    amount: Annotated[int, Query(gt=0, le=transfers.MAX_TRANSFER, description="cents")],
) -> QuoteOut:
    """What USSD shows on its confirmation screen: who will receive it (their registered
    name), the fee and the total. Nothing moves. Limits and balance are checked too."""
    phone = e164(to)
    recipient = await api.services.find_recipient(sender_user_id=caller.user_id, phone=phone)
    priced = await api.services.quote_transfer(sender_user_id=caller.user_id, amount=amount)
    return QuoteOut(
        to=recipient.phone,
        recipient_name=recipient.full_name,
        amount=priced.amount,
        fee=priced.fee,
        total=priced.total,
        balance=priced.balance,
    )


@router.post(
    "",
    summary="Send money to a phone number",
    status_code=status.HTTP_201_CREATED,
    responses={
        **errors(403, 404, 409),
        201: {
            "description": "sent; a replay of an earlier request with the same key and body"
            " answers the same, with `Idempotent-Replayed: true`"
        },
    },
)
async def send(
    body: TransferIn,
    response: Response,
    api: Api,
    caller: CurrentUser,
    idempotency_key: IdempotencyKey,
) -> TransferOut:
    """Move `amount` cents (plus the fee) to the wallet of the user registered on `to`.
    Both sides get an SMS. Errors: `wrong_pin` (401, with attempts left), `pin_locked`
    (403), `recipient_not_registered` (404), `idempotency_key_reused` (409),
    `insufficient_funds` / `limit_exceeded` / `send_to_self` (422)."""
    to = e164(body.to)
    request = transfers.TransferRequest(
        sender_user_id=caller.user_id,
        recipient_phone=to,
        amount=body.amount,
        idempotency_key=f"api:{idempotency_key}",
        channel="api",
        note=body.note,
    )
    # The PIN's keyed digest in the attempt key: a retry with the same PIN replays its
    # outcome, a corrected PIN is a new attempt. The PIN itself is never stored.
    pin_digest = keyed_digest(api.attempt_key, idempotency_key, body.pin)
    attempt_key = f"api-send:{caller.user_id}:{idempotency_key}:{pin_digest}"
    movement = await api.services.send_money(request, pin=body.pin, attempt_key=attempt_key)
    recipient = await api.services.find_recipient(sender_user_id=caller.user_id, phone=to)
    if movement.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    else:
        log.info(
            "api transfer",
            extra={"transaction_id": movement.transaction_id, "amount": movement.amount},
        )
    return TransferOut(
        id=movement.reference,
        to=to,
        recipient_name=recipient.full_name,
        amount=movement.amount,
        fee=movement.fee,
        balance=movement.balances[caller.user_id],
        note=body.note,
        created_at=movement.created_at,
    )


invitations = APIRouter(
    prefix="/api/v1/invitations", tags=["transfers"], responses={**COMMON, **SIGNED_IN}
)


@invitations.post(
    "",
    summary="Invite a number that is not on PayTrace",
    status_code=status.HTTP_202_ACCEPTED,
    responses=errors(422, 429),
)
async def invite(body: InvitationIn, api: Api, caller: CurrentUser) -> InvitationOut:
    """What USSD offers when the recipient is not registered: an SMS inviting them to
    open a wallet, at most once per sender, number and day (`already_invited` then),
    and at most `INVITES_PER_SENDER_PER_DAY` numbers a day (`invite_limit_reached`,
    429, nothing sent)."""
    phone = e164(body.phone)
    sent = await api.services.invite(sender_user_id=caller.user_id, phone=phone)
    return InvitationOut(status="invited" if sent else "already_invited")
