"""Deposits and withdrawals through M-Pesa over REST: the same services, limits, fees,
PIN lock and SMS as USSD's Deposit and Withdraw.

`POST` needs an `Idempotency-Key` header: the same key with the same body answers
the original again (`Idempotent-Replayed: true`) and moves nothing; with another
body it is refused (409). Both answer 202: M-Pesa finishes the work later (the user
confirms the prompt on their phone; M-Pesa pays out), and `GET` tells how it ended.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from app.api.v1.context import Api, CurrentUser
from app.api.v1.mpesa_models import (
    DepositIn,
    DepositOut,
    WithdrawalIn,
    WithdrawalOut,
    WithdrawalQuoteOut,
)
from app.api.v1.responses import COMMON, SIGNED_IN, errors
from app.api.v1.transfers import IdempotencyKey
from app.domain import mpesa as mpesa_rules
from app.services.keys import keyed_digest
from app.services.mpesa import deposits, withdrawals

log = logging.getLogger("paytrace.api")

REFERENCE = Annotated[
    str, Path(min_length=10, max_length=10, pattern=r"^[A-Z2-9]{10}$", examples=["K7QX2M9PLA"])
]
_MONEY_OUT = {
    **errors(403, 404, 409, 503),
    202: {
        "description": "accepted: M-Pesa finishes it; a replay of an earlier request with the"
        " same key and body answers the same, with `Idempotent-Replayed: true`"
    },
}

deposits_router = APIRouter(
    prefix="/api/v1/deposits", tags=["m-pesa"], responses={**COMMON, **SIGNED_IN}
)
withdrawals_router = APIRouter(
    prefix="/api/v1/withdrawals", tags=["m-pesa"], responses={**COMMON, **SIGNED_IN}
)


@deposits_router.post(
    "",
    summary="Deposit from M-Pesa: a prompt on my phone",
    status_code=status.HTTP_202_ACCEPTED,
    responses={**errors(409, 503), 202: _MONEY_OUT[202]},
)
async def create_deposit(
    body: DepositIn,
    response: Response,
    api: Api,
    caller: CurrentUser,
    idempotency_key: IdempotencyKey,
) -> DepositOut:
    """M-Pesa prompts the user's own phone for `amount` (their M-Pesa PIN); the wallet is
    credited from M-Pesa's result, once, and the user gets an SMS either way. Errors:
    `invalid_amount` (422: cents, or outside KES 1-250,000), `idempotency_key_reused`
    (409), `mpesa_unavailable` (503)."""
    request = deposits.DepositRequest(
        user_id=caller.user_id,
        amount=body.amount,
        idempotency_key=f"api:{idempotency_key}",
        channel="api",
    )
    requested = await api.services.request_deposit(request)
    if requested.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return DepositOut.of(requested.deposit)


@deposits_router.get("/{deposit_id}", summary="A deposit of mine")
async def get_deposit(deposit_id: REFERENCE, api: Api, caller: CurrentUser) -> DepositOut:
    """Where the deposit stands: pending until M-Pesa's result, then completed or failed."""
    found = await api.services.run(
        deposits.get_deposit, reference=deposit_id, user_id=caller.user_id
    )
    return DepositOut.of(found)


@withdrawals_router.get(
    "/quote", summary="The fee of a withdrawal, before the PIN", responses=errors(404)
)
async def quote_withdrawal(
    api: Api,
    caller: CurrentUser,
    amount: Annotated[
        int, Query(gt=0, le=mpesa_rules.MAX_PAYMENT, description="cents, whole shillings")
    ],
) -> WithdrawalQuoteOut:
    """What USSD shows before the PIN: the fee and the total. Nothing moves; limits and
    balance are checked too."""
    quote = await api.services.quote_withdrawal(user_id=caller.user_id, amount=amount)
    return WithdrawalQuoteOut(
        amount=quote.amount, fee=quote.fee, total=quote.total, balance=quote.balance
    )


@withdrawals_router.post(
    "",
    summary="Withdraw to my M-Pesa",
    status_code=status.HTTP_202_ACCEPTED,
    responses=_MONEY_OUT,
)
async def create_withdrawal(
    body: WithdrawalIn,
    response: Response,
    api: Api,
    caller: CurrentUser,
    idempotency_key: IdempotencyKey,
) -> WithdrawalOut:
    """`amount` plus its fee leave the wallet at once (held), and M-Pesa pays `amount` to
    the user's own number; if M-Pesa does not pay, the hold comes back to the wallet.
    The user gets an SMS either way. Errors: `wrong_pin` (401), `pin_locked` (403),
    `idempotency_key_reused` (409), `insufficient_funds` / `limit_exceeded` /
    `invalid_amount` (422), `mpesa_unavailable` (503)."""
    request = withdrawals.WithdrawalRequest(
        user_id=caller.user_id,
        amount=body.amount,
        idempotency_key=f"api:{idempotency_key}",
        channel="api",
    )
    # As for transfers: a retry with the same PIN replays, a corrected PIN is a new try.
    pin_digest = keyed_digest(api.attempt_key, idempotency_key, body.pin)
    held = await api.services.withdraw(
        request,
        pin=body.pin,
        attempt_key=f"api-withdraw:{caller.user_id}:{idempotency_key}:{pin_digest}",
    )
    if held.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    else:
        log.info("api withdrawal", extra={"withdrawal": held.withdrawal.reference})
    return WithdrawalOut.of(held.withdrawal, held.balance)


@withdrawals_router.get("/{withdrawal_id}", summary="A withdrawal of mine")
async def get_withdrawal(withdrawal_id: REFERENCE, api: Api, caller: CurrentUser) -> WithdrawalOut:
    """Where the withdrawal stands: pending until M-Pesa's word, then completed or failed
    (the amount and fee back in the wallet)."""
    found = await api.services.run(
        withdrawals.get_withdrawal, reference=withdrawal_id, user_id=caller.user_id
    )
    return WithdrawalOut.of(found)
