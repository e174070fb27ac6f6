"""The sandbox's own control routes under `/sandbox/` (no Daraja equivalent): choose
what the customer and M-Pesa do, answer a customer's STK prompt, see what callbacks
were sent, expire tokens.

Errors here are `{"error", "detail"}`, not Daraja-shaped: these routes are the
sandbox's, for developers and tests.
"""

from __future__ import annotations

import json
import time

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from app.sandboxes.daraja import prompts
from app.sandboxes.daraja.faults import parse_fault
from app.sandboxes.daraja.identifiers import eat
from app.sandboxes.daraja.scenarios import DEFAULT_RULES, BadScenario, parse_rule
from app.sandboxes.daraja.store import Delivery, Store

router = APIRouter(prefix="/sandbox", tags=["sandbox control"])
_DEV_ONLY = "Development tool (local Daraja sandbox); absent in production."


def _store(request: Request) -> Store:
    return request.app.state.store


def _bad(detail: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": "invalid_scenario", "detail": detail}, status_code=status)


@router.post("/scenarios", summary="Add a scenario rule", description=_DEV_ONLY, status_code=201)
async def add_scenario(request: Request) -> JSONResponse:
    """`{"phone" | "amount", "result", "callback"?, "api"?}`; the newest rule wins."""
    try:
        rule = parse_rule(json.loads(await request.body() or b"null"))
    except (ValueError, UnicodeDecodeError) as exc:  # BadScenario is a ValueError
        detail = str(exc) if isinstance(exc, BadScenario) else "send a JSON object"
        return _bad(detail)
    return JSONResponse(_store(request).add_rule(rule).to_json(), status_code=201)


@router.get("/scenarios", summary="Scenario rules and defaults", description=_DEV_ONLY)
def list_scenarios(request: Request) -> dict:
    defaults = [
        {"amount_ends_with": f"{ending:02d}", "result": result, "callback": delivery}
        for ending, result, delivery in DEFAULT_RULES
    ]
    return {
        "rules": [rule.to_json() for rule in _store(request).rules()],
        "defaults": {"applies_from_amount": 100, "by_last_two_digits": defaults},
    }


@router.delete("/scenarios", summary="Remove every rule", description=_DEV_ONLY, status_code=204)
def clear_scenarios(request: Request) -> Response:
    _store(request).delete_rules()
    return Response(status_code=204)


@router.delete(
    "/scenarios/{rule_id}", summary="Remove one rule", description=_DEV_ONLY, status_code=204
)
def delete_scenario(request: Request, rule_id: int) -> Response:
    if not _store(request).delete_rules(rule_id):
        return _bad(f"no rule {rule_id}", 404)
    return Response(status_code=204)


def _when(epoch: float | None) -> str | None:
    return eat(epoch).isoformat(timespec="milliseconds") if epoch is not None else None


def _delivery_json(delivery: Delivery) -> dict:
    return {
        "id": delivery.id,
        "kind": delivery.kind,
        "reference": delivery.reference,
        "url": delivery.url,
        "body": delivery.body,
        "due_at": _when(delivery.due_at),
        "sent_at": _when(delivery.sent_at),
        "status_code": delivery.status_code,
        "error": delivery.error,
    }


@router.get("/callbacks", summary="Callbacks planned and sent", description=_DEV_ONLY)
def list_callbacks(request: Request, reference: str | None = None) -> list[dict]:
    """Oldest first; `reference` is a CheckoutRequestID or a ConversationID."""
    return [_delivery_json(d) for d in _store(request).deliveries(reference)]


@router.post(
    "/tokens/expire", summary="Expire every issued token", description=_DEV_ONLY, status_code=204
)
def expire_tokens(request: Request) -> Response:
    """As if an hour had passed: every bearer token is refused from now on."""
    _store(request).expire_tokens(time.time())
    return Response(status_code=204)


@router.post("/faults", summary="Make the next answer(s) of one API go wrong", status_code=201)
async def add_fault(request: Request) -> JSONResponse:
    """`{"api", "fault", "after_send"?, "count"?, "delay_s"?}` (app/sandboxes/daraja/
    faults.py says what each does); in memory only."""
    try:
        fault = parse_fault(json.loads(await request.body() or b"null"))
    except (ValueError, UnicodeDecodeError) as exc:
        return _bad(str(exc) if isinstance(exc, BadScenario) else "send a JSON object")
    request.app.state.faults.add(fault)
    return JSONResponse({"pending": request.app.state.faults.listed()}, status_code=201)


@router.get("/faults", summary="Faults still to happen", description=_DEV_ONLY)
def list_faults(request: Request) -> list[dict]:
    return request.app.state.faults.listed()


@router.delete("/faults", summary="Remove every fault", description=_DEV_ONLY, status_code=204)
def clear_faults(request: Request) -> Response:
    request.app.state.faults.clear()
    return Response(status_code=204)


@router.get("/prompts", summary="STK prompts waiting on a phone", description=_DEV_ONLY)
def list_prompts(request: Request, phone: str = "") -> JSONResponse:
    """`?phone=2547...`: the prompts of pushes under an `ask` rule still on its screen."""
    phone = phone.strip().lstrip("+")
    if not (phone.isdigit() and phone.startswith("254") and len(phone) == 12):
        return _bad("phone must be an MSISDN such as 254712345678", 422)
    now, config = time.time(), request.app.state.config
    waiting = _store(request).open_prompts(phone, now)
    return JSONResponse({"prompts": [prompts.listed(p, config, now) for p in waiting]})


@router.post(
    "/prompts/{checkout_request_id}", summary="Answer an STK prompt", description=_DEV_ONLY
)
async def answer_prompt(request: Request, checkout_request_id: str) -> JSONResponse:
    """`{"answer": "accept", "pin": "1234"}` or `{"answer": "cancel"}`: the push's result
    now (paid, wrong PIN 2001, cancelled 1032) and its callback sent."""
    try:
        given = prompts.parse_answer(json.loads(await request.body() or b"null"))
        answered = prompts.answer(
            _store(request), request.app.state.config, checkout_request_id, given, time.time()
        )
    except prompts.PromptRefused as refused:
        body = {"error": refused.code, "detail": refused.detail}
        return JSONResponse(body, status_code=refused.status)
    except (ValueError, UnicodeDecodeError):
        return JSONResponse({"error": "invalid_answer", "detail": "send a JSON object"}, 400)
    return JSONResponse(
        {
            "checkout_request_id": answered.checkout_request_id,
            "result": answered.result,
            "result_code": answered.result_code,
            "result_desc": answered.result_desc,
        }
    )
