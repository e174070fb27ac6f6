"""M-Pesa's side of the sandbox: what becomes of a request Daraja has accepted.

Each request's outcome is decided when it arrives (by the scenario rules; an STK push
under the `ask` rule waits for the customer's answer instead, prompts.py) and stored
with the callbacks it will cause, due `callback_delay_s` later; until then an STK
query says the transaction is being processed. A transaction status query answers
from what is stored as of the moment its own result is due.
"""

from __future__ import annotations

import sqlite3

from app.sandboxes.daraja import b2b, errors, identifiers, payloads, reversals
from app.sandboxes.daraja.config import SandboxConfig
from app.sandboxes.daraja.scenarios import (
    ASK,
    SUCCESS_DESC,
    WRONG_INITIATOR_DESC,
    Scenario,
    resolve,
    result_for,
)
from app.sandboxes.daraja.store import B2CRecord, C2BRecord, Delivery, StkRecord, Store
from app.sandboxes.daraja.validation import B2CPayment, StatusQuery, StkPush

_COPIES = {"once": 1, "duplicate": 2, "none": 0}
REASONS = {
    "BusinessPayment": "Business Payment to Customer via API",
    "SalaryPayment": "Salary Payment via API",
    "PromotionPayment": "Promotion Payment via API",
}
# Not found: Daraja does not document these codes; these are the sandbox's.
NOT_FOUND_BY_ORIGINATOR = ("R000002", "The OriginatorConversationID is invalid.")
NOT_FOUND_BY_RECEIPT = ("R000001", "The transaction receipt number is invalid.")


def _deliveries(
    kind: str, reference: str, url: str, body: dict, due_at: float, scenario: Scenario, gap: float
) -> list[Delivery]:
    copies = _COPIES[scenario.delivery]
    return [Delivery(kind, reference, url, body, due_at + i * gap) for i in range(copies)]


def accept_stk_push(
    store: Store, config: SandboxConfig, push: StkPush, now: float, *, metadata: bool = True
) -> StkRecord:
    """Record an STK push with its outcome, and its callbacks (none, one or two);
    `metadata=False` sends a paid one without its CallbackMetadata (a fault)."""
    scenario = resolve(store.rules(), "stk", push.phone, push.amount)
    asks = scenario.result == ASK
    # A prompt that waits for the customer is planned as the customer not answering:
    # the timeout, when the prompt expires, unless an answer replaces it (prompts.py).
    code, desc = result_for("stk", "timeout" if asks else scenario.result)
    settles_at = now + (config.prompt_timeout_s if asks else config.callback_delay_s)
    for _ in range(5):  # a CheckoutRequestID can collide within one second
        record = StkRecord(
            checkout_request_id=identifiers.checkout_request_id(now, push.phone),
            merchant_request_id=identifiers.request_id(),
            phone=push.phone,
            amount=push.amount,
            party_b=push.party_b,
            account_reference=push.account_reference,
            callback_url=push.callback_url,
            result="timeout" if asks else scenario.result,
            result_code=code,
            result_desc=desc,
            receipt=identifiers.receipt(settles_at) if code == 0 else None,
            created_at=now,
            settles_at=settles_at,
        )
        body = payloads.stk_callback(record, metadata=metadata)
        deliveries = _deliveries(
            "stk_callback",
            record.checkout_request_id,
            push.callback_url,
            body,
            settles_at,
            scenario,
            config.duplicate_gap_s,
        )
        try:
            if asks:
                store.add_stk_prompt(record, deliveries, scenario.delivery)
            else:
                store.add_stk(record, deliveries)
        except sqlite3.IntegrityError:
            continue
        return record
    raise RuntimeError("could not allocate a unique CheckoutRequestID")


def answer_stk_query(store: Store, checkout_request_id: str, now: float) -> dict:
    """The STK query's answer; raises DarajaError while the customer has not answered."""
    record = store.stk(checkout_request_id=checkout_request_id)
    if record is None:
        raise errors.invalid("CheckoutRequestID")
    if now < record.settles_at:
        raise errors.being_processed()
    return payloads.stk_query_answer(record)


def accept_b2c(store: Store, config: SandboxConfig, payment: B2CPayment, now: float) -> B2CRecord:
    """Record a B2C payment with its outcome and its result (or queue timeout) notice.
    Raises DarajaError for an OriginatorConversationID already used."""
    scenario = resolve(store.rules(), "b2c", payment.phone, payment.amount)
    if not payment.credentials_ok:
        scenario = Scenario("wrong_pin", scenario.delivery)
    code, desc = result_for("b2c", scenario.result)
    originator = payment.originator_conversation_id or identifiers.request_id()
    if store.b2c(originator_conversation_id=originator) is not None:
        raise errors.duplicate_originator_conversation_id()
    settles_at = now + config.callback_delay_s
    record = B2CRecord(
        conversation_id=identifiers.conversation_id(now),
        originator_conversation_id=originator,
        phone=payment.phone,
        amount=payment.amount,
        command_id=payment.command_id,
        remarks=payment.remarks,
        occasion=payment.occasion,
        result_url=payment.result_url,
        queue_timeout_url=payment.queue_timeout_url,
        result=scenario.result,
        result_code=code,
        result_desc=desc,
        transaction_id=(identifiers.receipt if code == 0 else identifiers.failed_transaction_id)(
            settles_at
        ),
        created_at=now,
        settles_at=settles_at,
    )
    if scenario.result == "timeout":
        kind, url = "b2c_queue_timeout", record.queue_timeout_url
        body = payloads.b2c_queue_timeout(record)
    else:
        kind, url, body = "b2c_result", record.result_url, payloads.b2c_result(record, config)
    deliveries = _deliveries(
        kind, record.conversation_id, url, body, settles_at, scenario, config.duplicate_gap_s
    )
    try:
        store.add_b2c(record, deliveries)
    except sqlite3.IntegrityError:
        raise errors.duplicate_originator_conversation_id() from None
    return record


def accept_status_query(
    store: Store, config: SandboxConfig, query: StatusQuery, now: float
) -> dict:
    """Plan the status result (always sent once) and give the synchronous answer."""
    conversation_id = identifiers.conversation_id(now)
    originator = identifiers.request_id()
    due_at = now + config.callback_delay_s
    code, desc, transaction_id, parameters = _status(store, config, query, due_at)
    body = payloads.status_result(
        conversation_id,
        originator,
        code,
        desc,
        transaction_id,
        occasion=query.occasion,
        parameters=parameters,
    )
    delivery = Delivery("status_result", conversation_id, query.result_url, body, due_at)
    store.add_deliveries([delivery])
    return payloads.request_accepted(conversation_id, originator)


def _status(store: Store, config: SandboxConfig, query: StatusQuery, at: float) -> tuple:
    """(ResultCode, ResultDesc, TransactionID, parameters) of the query, as of `at`."""
    if not query.credentials_ok:
        return 2001, WRONG_INITIATOR_DESC, identifiers.failed_transaction_id(at), None
    reversal = (
        store.reversal(query.originator_conversation_id)
        if query.originator_conversation_id
        else None
    )
    if reversal is not None and reversal.settles_at <= at:
        parameters = reversals.status_parameters(reversal, store, config)
        return 0, SUCCESS_DESC, reversal.transaction_id, parameters
    payment = store.b2c(
        originator_conversation_id=query.originator_conversation_id,
        receipt=query.transaction_id,
    )
    # A payment M-Pesa has not processed yet, or never will (its request timed out
    # in the queue), is no transaction at all.
    if payment is not None and payment.result != "timeout" and payment.settles_at <= at:
        return 0, SUCCESS_DESC, payment.transaction_id, _b2c_parameters(payment, config)
    bill = store.b2b(
        originator_conversation_id=query.originator_conversation_id,
        receipt=query.transaction_id,
    )
    if bill is not None and bill.result != "timeout" and bill.settles_at <= at:
        return 0, SUCCESS_DESC, bill.transaction_id, b2b.status_parameters(bill, config)
    push = store.stk(receipt=query.transaction_id) if query.transaction_id else None
    if push is not None and push.settles_at <= at:
        return 0, SUCCESS_DESC, push.receipt, _stk_parameters(push, config)
    paid_in = store.c2b(query.transaction_id) if query.transaction_id else None
    if paid_in is not None and paid_in.status == "completed" and (paid_in.settled_at or at) <= at:
        return 0, SUCCESS_DESC, paid_in.trans_id, _c2b_parameters(paid_in, config)
    code, desc = NOT_FOUND_BY_RECEIPT if query.transaction_id else NOT_FOUND_BY_ORIGINATOR
    return code, desc, identifiers.failed_transaction_id(at), None


def _b2c_parameters(payment: B2CRecord, config: SandboxConfig) -> list:
    paid = payment.result == "success"
    return payloads.status_parameters(
        receipt=payment.transaction_id if paid else None,
        status="Completed" if paid else "Failed",
        amount=payment.amount,
        debit_party=f"{config.b2c_shortcode} - {config.organization_name}",
        credit_party=f"{payment.phone} - Sandbox Customer",
        reason_type=REASONS[payment.command_id],
        initiated_at=payment.created_at,
        finalised_at=payment.settles_at,
        conversation_id=payment.conversation_id,
        originator_conversation_id=payment.originator_conversation_id,
    )


def _stk_parameters(push: StkRecord, config: SandboxConfig) -> list:
    return payloads.status_parameters(
        receipt=push.receipt,
        status="Completed",
        amount=push.amount,
        debit_party=f"{push.phone} - Sandbox Customer",
        credit_party=f"{push.party_b} - {config.organization_name}",
        reason_type="Pay Bill Online",
        initiated_at=push.created_at,
        finalised_at=push.settles_at,
        conversation_id=push.checkout_request_id,
        originator_conversation_id=push.merchant_request_id,
    )


def _c2b_parameters(payment: C2BRecord, config: SandboxConfig) -> list:
    return payloads.status_parameters(
        receipt=payment.trans_id,
        status="Completed",
        amount=payment.amount,
        debit_party=f"{payment.phone} - Sandbox Customer",
        credit_party=f"{payment.shortcode} - {config.organization_name}",
        reason_type="Pay Bill" if payment.command_id == "CustomerPayBillOnline" else "Buy Goods",
        initiated_at=payment.created_at,
        finalised_at=payment.settled_at,
        conversation_id="",
        originator_conversation_id="",
    )
