"""Pay orders paid from M-Pesa's own menu (C2B Paybill, the order code as account
number): Daraja's validation and confirmation, and the checker's claims.

Validation answers at once whether PayTrace takes the payment (an order awaiting
exactly this amount). Confirmation says the money has arrived in PayTrace's paybill;
it is hostile until proven otherwise, so it is only recorded (once per TransID) and
M-Pesa is asked (transaction status by the TransID). Only that answer moves money
(order_payment_results.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.db.unit_of_work import UnitOfWork
from app.domain import pay_orders as order_rules
from app.domain.records.mpesa import OrderPayment
from app.domain.records.pay_orders import PayOrderRow
from app.integrations.daraja import Daraja
from app.integrations.daraja_payloads import C2BPayment, MalformedPayload, parse_c2b, read_json

log = logging.getLogger("paytrace.mpesa")

__all__ = [
    "OrderPayment",
    "claim_due",
    "confirm",
    "register_paybill",
    "status_query_asked",
    "validate",
]

# What M-Pesa does with a paybill payment when PayTrace's validation does not answer:
# cancel it. The customer can pay again; a payment taken unchecked might be for an
# order that is gone and would have to be returned.
PAYBILL_RESPONSE_TYPE = "Cancelled"

# Daraja's C2B validation answers.
ACCEPTED = ("0", "Accepted")
INVALID_ACCOUNT = ("C2B00012", "Rejected")  # no order awaiting payment has this code
INVALID_AMOUNT = ("C2B00013", "Rejected")  # not exactly the order's amount
INVALID_SHORTCODE = ("C2B00015", "Rejected")
OTHER_ERROR = ("C2B00016", "Rejected")
# A confirmation whose TransID a deposit already carries: refused, never recorded.
DEPOSIT_RECEIPT = "deposit_receipt"


def register_paybill(daraja: Daraja, *, callback_base: str, token: str) -> tuple[str, str]:
    """Register PayTrace's C2B validation and confirmation URLs for its paybill; returns
    them (validation, confirmation). Raises DarajaError (a token Daraja refuses in a URL
    - it refuses a few words anywhere in one - is a permanent refusal: rotate it)."""
    # Daraja refuses URLs naming M-Pesa: these live under /callbacks/c2b/.
    base = f"{callback_base.rstrip('/')}/callbacks/c2b"
    validation, confirmation = f"{base}/validation/{token}", f"{base}/confirmation/{token}"
    daraja.register_c2b_urls(
        confirmation_url=confirmation,
        validation_url=validation,
        response_type=PAYBILL_RESPONSE_TYPE,
    )
    return validation, confirmation


@dataclass(frozen=True)
class Validation:
    """Daraja's answer to give, and what was recorded of the callback."""

    result_code: str
    result_desc: str
    outcome: str  # accepted | invalid_account | invalid_amount | wrong_shortcode | malformed

    @property
    def body(self) -> dict:
        return {"ResultCode": self.result_code, "ResultDesc": self.result_desc}


def validate(
    uow: UnitOfWork,
    callback_id: int,
    body: bytes,
    *,
    shortcode: str,
    now: datetime | None = None,
) -> Validation:
    """Whether PayTrace takes this C2B payment: only toward an order awaiting payment
    of exactly this amount, at PayTrace's own shortcode. Records the callback's outcome;
    commits. Nothing moves (the confirmation and M-Pesa's answer decide that)."""
    now = now or datetime.now(UTC)
    with uow:
        try:
            payment = parse_c2b(read_json(body))
        except MalformedPayload as exc:
            answer, detail = Validation(*OTHER_ERROR, "malformed"), str(exc)
            payment = None
        else:
            answer, detail = _judge(uow, payment, shortcode, now)
        reference = payment.trans_id if payment else None
        uow.callbacks.set_outcome(callback_id, answer.outcome, detail, reference=reference)
        uow.commit()
    return answer


def _judge(
    uow: UnitOfWork, payment: C2BPayment, shortcode: str, now: datetime
) -> tuple[Validation, str]:
    if payment.shortcode != shortcode:
        return Validation(*INVALID_SHORTCODE, "wrong_shortcode"), payment.shortcode
    code = payment.bill_ref
    order = _order_named(uow, code)
    if order is None:
        return Validation(*INVALID_ACCOUNT, "invalid_account"), "no order has this code"
    problem = order_rules.payable_problem(order.status, order.expires_at, now)
    if problem is not None:
        return Validation(*INVALID_ACCOUNT, "invalid_account"), f"order {code} is {problem}"
    if payment.amount != order.amount:
        detail = f"paid {payment.amount} cents, the order is {order.amount}"
        return Validation(*INVALID_AMOUNT, "invalid_amount"), detail
    if uow.order_pushes.payment_in_progress(order.id, now - order_rules.PAYMENT_HOLD):
        return Validation(*INVALID_ACCOUNT, "in_progress"), f"order {code}: a payment is under way"
    return Validation(*ACCEPTED, "accepted"), f"order {code}"


def _order_named(uow: UnitOfWork, account: str) -> PayOrderRow | None:
    """The order an account number names (the newest with this code), unlocked."""
    return uow.pay_orders.newest_by_code(account) if order_rules.is_order_code(account) else None


def confirm(
    uow: UnitOfWork, callback_id: int, body: bytes, *, shortcode: str, now: datetime
) -> str:
    """Record a C2B confirmation once per TransID, to be checked with M-Pesa at once;
    commits. Returns the callback's outcome: confirming, duplicate (its TransID was
    recorded before), deposit_receipt (its TransID is a deposit's receipt: not
    recorded), wrong_shortcode or malformed. Moves no money."""
    with uow:
        try:
            payment = parse_c2b(read_json(body))
        except MalformedPayload as exc:
            uow.callbacks.set_outcome(callback_id, "malformed", str(exc))
            uow.commit()
            return "malformed"
        if payment.shortcode != shortcode:
            outcome, detail = "wrong_shortcode", payment.shortcode
        elif uow.deposits.has_receipt(payment.trans_id):
            # A user's deposit already counted this M-Pesa transaction (M-Pesa's status
            # answer would confirm it: it happened, to this paybill): never twice.
            outcome, detail = DEPOSIT_RECEIPT, "this TransID is a deposit's M-Pesa receipt"
        else:
            order = _order_named(uow, payment.bill_ref)
            added = uow.order_payments.add(
                trans_id=payment.trans_id,
                bill_ref=payment.bill_ref,
                amount=payment.amount,
                msisdn=payment.msisdn,
                payer_name=payment.payer_name,
                order_id=order.id if order else None,
                received_at=now,
            )
            outcome = "confirming" if added else "duplicate"
            detail = f"account {payment.bill_ref}" if added else "this TransID was recorded"
        uow.callbacks.set_outcome(callback_id, outcome, detail, reference=payment.trans_id)
        uow.commit()
    log.info("C2B confirmation", extra={"trans_id": payment.trans_id, "outcome": outcome})
    return outcome


def claim_due(uow: UnitOfWork, *, now: datetime, lease_s: float, limit: int) -> list[OrderPayment]:
    """Order payments whose status query is due, each leased for lease_s; commits."""
    with uow:
        claimed = uow.order_payments.claim_due(now, now + timedelta(seconds=lease_s), limit)
        uow.commit()
    return claimed


def status_query_asked(
    uow: UnitOfWork,
    payment_id: int,
    *,
    conversation_id: str,
    originator_conversation_id: str | None,
) -> None:
    """Store a transaction status query Daraja accepted about an order payment: its
    answer is matched to the payment by these ids only. Commits."""
    with uow:
        uow.status_queries.add(
            order_payment_id=payment_id,
            conversation_id=conversation_id,
            originator_conversation_id=originator_conversation_id,
        )
        uow.commit()
