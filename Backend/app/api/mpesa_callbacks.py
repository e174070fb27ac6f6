"""Callbacks from M-Pesa (Daraja): STK push results, B2C results and queue timeouts,
transaction status answers.

Each route's last path segment is MPESA_CALLBACK_TOKEN, the secret PayTrace put in the
URLs it gave Daraja. Every callback is stored as it arrived (its token checked, the
token itself masked in the stored path) before it is read; a wrong token is refused
(403) once stored. A stored callback whose processing fails is processed again by the
worker, so Daraja - which never retries - always gets its 200 once PayTrace has it.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse

from app.api.callback_store import store
from app.errors import Forbidden, PayTraceError
from app.http.error_body import error_body
from app.services.facade import ChannelServices
from app.services.mpesa import inbound, order_payments, payouts

log = logging.getLogger("paytrace.callbacks")

router = APIRouter(prefix="/callbacks/mpesa", tags=["callbacks"])
# Daraja refuses C2B URLs that name M-Pesa, so the paybill's live apart.
c2b_router = APIRouter(prefix="/callbacks/c2b", tags=["callbacks"])

# Unconstrained on purpose: whatever arrives is stored before anything is refused.
Token = Annotated[str, Path(description="MPESA_CALLBACK_TOKEN")]
ACKNOWLEDGED = {"ResultCode": 0, "ResultDesc": "Accepted"}


@router.post("/stk/{token}", summary="M-Pesa STK push result")
async def stk_result(
    request: Request,
    token: Token,
    deposit: Annotated[str | None, Query(description="the deposit PayTrace asked for")] = None,
) -> JSONResponse:
    """Credit the deposit it names (by CheckoutRequestID) once, or record why not."""
    return await _handle(request, token, "stk")


@router.post("/b2c/result/{token}", summary="M-Pesa B2C result")
async def b2c_result(request: Request, token: Token) -> JSONResponse:
    """Pay out or release the withdrawal it names (by OriginatorConversationID), once."""
    return await _handle(request, token, "b2c_result")


@router.post("/b2c/timeout/{token}", summary="M-Pesa B2C queue timeout")
async def b2c_timeout(request: Request, token: Token) -> JSONResponse:
    """The payment's fate is unknown: its withdrawal is asked about, nothing released."""
    return await _handle(request, token, "b2c_timeout")


@router.post("/status/result/{token}", summary="M-Pesa transaction status answer")
async def status_result(request: Request, token: Token) -> JSONResponse:
    """What M-Pesa knows of a withdrawal's payment: paid, failed, or no such payment."""
    return await _handle(request, token, "status_result")


@router.post("/status/timeout/{token}", summary="M-Pesa transaction status queue timeout")
async def status_timeout(request: Request, token: Token) -> JSONResponse:
    """The status query itself timed out: the withdrawal is asked about again later."""
    return await _handle(request, token, "status_timeout")


@router.post("/b2b/result/{token}", summary="M-Pesa B2B (Pay Bill) result")
async def b2b_result(request: Request, token: Token) -> JSONResponse:
    """A bill paid to a biller's paybill: M-Pesa is asked about it at once; its word
    moves nothing."""
    return await _handle(request, token, "b2b_result")


@router.post("/b2b/timeout/{token}", summary="M-Pesa B2B (Pay Bill) queue timeout")
async def b2b_timeout(request: Request, token: Token) -> JSONResponse:
    """The bill's fate is unknown: M-Pesa is asked about it; nothing moves."""
    return await _handle(request, token, "b2b_timeout")


@router.post("/order-stk/{token}", summary="M-Pesa STK push result (a pay order's push)")
async def order_stk_result(request: Request, token: Token) -> JSONResponse:
    """A merchant's push for an order: a paid one is checked with M-Pesa before the
    order is paid."""
    return await _handle(request, token, "order_stk")


@router.post("/reversal/result/{token}", summary="M-Pesa transaction reversal result")
async def reversal_result(request: Request, token: Token) -> JSONResponse:
    """A returned payment's reversal: M-Pesa is asked about it at once; nothing moves."""
    return await _handle(request, token, "reversal_result")


@router.post("/reversal/timeout/{token}", summary="M-Pesa transaction reversal queue timeout")
async def reversal_timeout(request: Request, token: Token) -> JSONResponse:
    """The reversal's fate is unknown: M-Pesa is asked about it; nothing moves."""
    return await _handle(request, token, "reversal_timeout")


@c2b_router.post("/validation/{token}", summary="M-Pesa C2B validation (paybill)")
async def c2b_validation(request: Request, token: Token) -> JSONResponse:
    """Take a paybill payment only toward an order awaiting exactly its amount:
    `{"ResultCode": "0"}`, or Daraja's rejection code (C2B00012 unknown, expired,
    canceled or paid order; C2B00013 wrong amount)."""
    services: ChannelServices = request.app.state.services
    stored = await _stored(request, token, "c2b_validation")
    try:
        answer = await services.run(
            order_payments.validate,
            stored.callback_id,
            stored.body,
            shortcode=services.settings.daraja_shortcode,
        )
    except Exception:
        # Not checked: refused (M-Pesa cancels it; the customer can pay again).
        log.exception("C2B validation failed", extra={"callback_id": stored.callback_id})
        return JSONResponse(order_payments.Validation(*order_payments.OTHER_ERROR, "error").body)
    if answer.outcome == "malformed":
        return JSONResponse(
            error_body("malformed_callback", "not a callback Daraja sends"), status_code=400
        )
    return JSONResponse(answer.body)


@c2b_router.post("/confirmation/{token}", summary="M-Pesa C2B confirmation (paybill)")
async def c2b_confirmation(request: Request, token: Token) -> JSONResponse:
    """A paybill payment arrived: recorded once by its TransID, and M-Pesa is asked to
    confirm it before its order is marked paid."""
    return await _handle(request, token, "c2b_confirmation")


async def _stored(request: Request, token: str, kind: str):
    """The callback stored as it arrived; raises Forbidden (once stored) for a wrong
    token."""
    services: ChannelServices = request.app.state.services
    settings = services.settings
    expected = settings.mpesa_callback_token
    stored = await store(
        request,
        provider="mpesa",
        kind=kind,
        expected=expected,
        given=token,
        previous=settings.mpesa_callback_token_previous,
    )
    if not stored.verified or expected is None:
        log.warning("M-Pesa callback with a wrong token refused", extra={"kind": kind})
        raise Forbidden("invalid callback token")
    return stored


async def _handle(request: Request, token: str, kind: str) -> JSONResponse:
    services: ChannelServices = request.app.state.services
    settings = services.settings
    stored = await _stored(request, token, kind)
    try:
        outcome = await services.run(
            inbound.process_mpesa,
            stored.callback_id,
            kind=kind,
            body=stored.body,
            query=request.url.query or None,
            policy=payouts.CheckPolicy.from_settings(settings),
        )
    except PayTraceError as exc:
        # Stored already: the worker processes it again once the cause has passed.
        log.warning(
            "M-Pesa callback stored, not processed yet",
            extra={"callback_id": stored.callback_id, "error": exc.code},
        )
        return JSONResponse(ACKNOWLEDGED)
    except Exception:
        log.exception(
            "M-Pesa callback stored, processing failed", extra={"callback_id": stored.callback_id}
        )
        return JSONResponse(ACKNOWLEDGED)
    if outcome == "malformed":
        return JSONResponse(
            error_body("malformed_callback", "not a callback Daraja sends"), status_code=400
        )
    return JSONResponse(ACKNOWLEDGED)
