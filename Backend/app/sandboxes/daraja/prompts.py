"""STK prompts that wait for the customer: the `ask` scenario.

Under an `ask` rule a push decides nothing when it arrives: its prompt stays on the
customer's phone (`GET /sandbox/prompts?phone=`) until the customer answers it
(`POST /sandbox/prompts/{CheckoutRequestID}`: accept with the M-PESA PIN, or cancel) or
it expires after `prompt_timeout_s`. Until then the STK query says the transaction is
being processed. An answer becomes the push's result at once (its callback is sent
then); a prompt nobody answers ends as M-Pesa ends it: 1037, "DS timeout user cannot be
reached". The web phone (app/sandboxes/web_phone) shows these prompts.
"""

from __future__ import annotations

import hmac
import sqlite3
from dataclasses import replace

from app.sandboxes.daraja import identifiers, payloads
from app.sandboxes.daraja.config import SandboxConfig
from app.sandboxes.daraja.scenarios import result_for
from app.sandboxes.daraja.store import Delivery, StkRecord, Store

ANSWERS = ("accept", "cancel")
_COPIES = {"once": 1, "duplicate": 2, "none": 0}


class PromptRefused(ValueError):
    """An answer the sandbox cannot take: `status` and `code` say why."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


def parse_answer(body: object) -> tuple[str, str]:
    """(answer, pin) from `{"answer": "accept", "pin": "1234"}` or `{"answer": "cancel"}`;
    raises PromptRefused."""
    if not isinstance(body, dict) or body.get("answer") not in ANSWERS:
        raise PromptRefused(400, "invalid_answer", 'send {"answer": "accept" | "cancel", "pin"?}')
    pin = body.get("pin", "")
    pin = pin if isinstance(pin, str) else ""
    if body["answer"] == "accept" and not (pin.isdigit() and len(pin) == 4):
        raise PromptRefused(400, "invalid_answer", "accepting takes the 4-digit M-PESA PIN")
    return body["answer"], pin


def listed(record: StkRecord, config: SandboxConfig, now: float) -> dict:
    """A prompt as the phone shows it (never with anything secret)."""
    return {
        "checkout_request_id": record.checkout_request_id,
        "phone": record.phone,
        "amount": record.amount,
        "business": config.organization_name.upper(),
        "account_reference": record.account_reference,
        "expires_at": identifiers.eat(record.settles_at).isoformat(timespec="seconds"),
        "expires_in_s": max(0, round(record.settles_at - now)),
    }


def answer(
    store: Store,
    config: SandboxConfig,
    checkout_request_id: str,
    given: tuple[str, str],
    now: float,
) -> StkRecord:
    """The customer's answer to the push's prompt: accepted with the right PIN it is
    paid, with another PIN it is a wrong PIN (2001), cancelled it is 1032. Raises
    PromptRefused: no such prompt (404), answered or expired already (409)."""
    what, pin = given
    push = store.stk(checkout_request_id=checkout_request_id)
    delivery = store.prompt_delivery(checkout_request_id) if push else None
    if push is None or delivery is None:
        raise PromptRefused(404, "no_prompt", "no prompt with that CheckoutRequestID")
    if what == "cancel":
        result = "cancelled"
    elif hmac.compare_digest(pin.encode(), config.customer_pin.encode()):
        result = "success"
    else:
        result = "wrong_pin"
    code, desc = result_for("stk", result)
    for _ in range(5):  # a receipt can collide
        answered = replace(
            push,
            result=result,
            result_code=code,
            result_desc=desc,
            receipt=identifiers.receipt(now) if code == 0 else None,
            settles_at=now,
        )
        body = payloads.stk_callback(answered)
        deliveries = [
            Delivery("stk_callback", checkout_request_id, push.callback_url, body, now + i * gap)
            for i, gap in enumerate([config.duplicate_gap_s] * _COPIES[delivery])
        ]
        try:
            closed = store.answer_prompt(answered, deliveries, now)
        except sqlite3.IntegrityError:
            continue
        if not closed:
            raise PromptRefused(409, "prompt_closed", "the prompt was answered or timed out")
        return answered
    raise RuntimeError("could not allocate a unique receipt")
