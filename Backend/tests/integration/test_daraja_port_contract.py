"""The Daraja port's contract: FakeDaraja answers as DarajaClient does over real HTTP
against the local Daraja sandbox (tests/support/contract.py runs each scenario on both).

Each side is arranged its own way: the fake is scripted (`answer`, `fail`), the
sandbox through its knobs (a scenario rule for the customer's phone, a fault for the
next answer). The callbacks are not the port's: nobody listens at CALLBACK.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest

from app.integrations.daraja import Daraja, DarajaClient, DarajaConfig, DarajaError, StkAccepted
from app.integrations.daraja_fake import (
    CUSTOMER_ANSWERS,
    FakeDaraja,
    bad_request,
    no_answer,
    system_busy,
)
from app.sandboxes.daraja import SandboxConfig
from tests.support.contract import observe, outcome
from tests.support.daraja import daraja_sandbox

SETTLE_S = 0.5  # the sandbox's callback delay: the customer answers this long after a push
CALLBACK = "http://127.0.0.1:9/callback"
# The fake's names for what the customer does, and the sandbox's.
SANDBOX_RESULTS = {
    "paid": "success",
    "cancelled": "cancelled",
    "unreachable": "timeout",
    "wrong_pin": "wrong_pin",
    "insufficient_funds": "insufficient_funds",
}
# The port's calls, and the sandbox's names for them in its faults.
SANDBOX_APIS = {
    "stk_push": "stk_push",
    "stk_query": "stk_query",
    "b2c": "b2c",
    "transaction_status": "status_query",
    "pay_bill": "b2b",
}
# The sandbox's faults, and what the fake is scripted with to stand for each.
FAKE_FAULTS = {"http_400": bad_request, "http_500": system_busy, "timeout": no_answer}


@dataclass
class Side:
    port: Daraja
    phone: str
    customer_will: Callable[[str], None]  # the customer on `phone` will answer so
    wait_for_customer: Callable[[StkAccepted], None]
    break_next: Callable[..., None]  # (api, fault, after_send=False)


@pytest.fixture(scope="module")
def sandbox_url(tmp_path_factory):
    with daraja_sandbox(tmp_path_factory.mktemp("daraja"), callback_delay_s=SETTLE_S) as server:
        yield server.url


def fresh_phone() -> str:
    return "2547" + "".join(secrets.choice("0123456789") for _ in range(8))


def fake_side() -> Side:
    fake, will = FakeDaraja(), {"answer": "paid"}

    def break_next(api: str, fault: str, after_send: bool = False) -> None:
        fake.fail(api, FAKE_FAULTS[fault](), after_send=after_send)

    return Side(
        fake,
        fresh_phone(),
        customer_will=lambda answer: will.update(answer=answer),
        wait_for_customer=lambda pushed: fake.answer(pushed.checkout_request_id, will["answer"]),
        break_next=break_next,
    )


@pytest.fixture
def sides(sandbox_url) -> dict[str, Callable[[], Side]]:
    sandbox = SandboxConfig()
    config = DarajaConfig(
        base_url=sandbox_url,
        consumer_key=sandbox.consumer_key,
        consumer_secret=sandbox.consumer_secret,
        shortcode=sandbox.shortcode,
        passkey=sandbox.passkey,
        b2c_shortcode=sandbox.b2c_shortcode,
        initiator_name=sandbox.initiator_name,
        security_credential=sandbox.security_credential,
        timeout_s=2.0,
    )
    control = httpx.Client(base_url=sandbox_url, timeout=5)

    def real_side() -> Side:
        assert control.delete("/sandbox/faults").status_code == 204
        phone = fresh_phone()

        def customer_will(answer: str) -> None:
            rule = {"phone": phone, "result": SANDBOX_RESULTS[answer], "api": "stk"}
            assert control.post("/sandbox/scenarios", json=rule).status_code == 201

        def break_next(api: str, fault: str, after_send: bool = False) -> None:
            body = {"api": SANDBOX_APIS[api], "fault": fault, "after_send": after_send}
            answer = control.post("/sandbox/faults", json=body | {"delay_s": 3.0})
            assert answer.status_code == 201, answer.text

        return Side(
            DarajaClient(config),
            phone,
            customer_will=customer_will,
            wait_for_customer=lambda pushed: time.sleep(SETTLE_S + 0.15),
            break_next=break_next,
        )

    yield {"fake": fake_side, "real": real_side}
    control.close()


def refused(call: Callable[[], object]):
    return outcome(
        call, DarajaError, "kind", "status", "code", "message", "duplicate", "being_processed"
    )


def push(side: Side, amount: int = 50) -> StkAccepted:
    return side.port.stk_push(
        phone=side.phone, amount=amount, reference="DEP123", description="Deposit",
        callback_url=CALLBACK,
    )  # fmt: skip


def b2c(side: Side, originator: str, amount: int = 50):
    return side.port.b2c(
        originator_conversation_id=originator, phone=side.phone, amount=amount,
        remarks="PayTrace withdrawal", occasion="WDR123", result_url=CALLBACK,
        timeout_url=CALLBACK,
    )  # fmt: skip


def status(side: Side, originator: str):
    return side.port.transaction_status(
        originator_conversation_id=originator, occasion="WDR123", result_url=CALLBACK,
        timeout_url=CALLBACK,
    )  # fmt: skip


def pay_bill(side: Side, account: str = "14523678901", amount: int = 500):
    return side.port.pay_bill(
        paybill="888880", account=account, amount=amount, requester=side.phone,
        remarks="PayTrace bill", result_url=CALLBACK, timeout_url=CALLBACK,
    )  # fmt: skip


def stk_accepted(value: object) -> object:
    """What a caller reads of an StkAccepted: its type, and ids of Daraja's shape."""
    if not isinstance(value, StkAccepted):
        return value
    return "StkAccepted", bool(value.merchant_request_id), value.checkout_request_id[:6]


def accepted(value: object, originator: str) -> object:
    """What a caller reads of an Accepted: an M-Pesa ConversationID, and whether the
    OriginatorConversationID is the one it sent."""
    if isinstance(value, tuple):
        return value
    conversation = value.conversation_id
    return conversation[:3], value.originator_conversation_id == originator


# ---- STK push and query ------------------------------------------------------------


@pytest.mark.parametrize("answer", sorted(CUSTOMER_ANSWERS))
def test_an_stk_push_is_being_processed_until_the_customer_answers(sides, answer):
    def scenario(side: Side):
        side.customer_will(answer)
        pushed = push(side)
        early = refused(lambda: side.port.stk_query(pushed.checkout_request_id))
        side.wait_for_customer(pushed)
        return stk_accepted(pushed), early, side.port.stk_query(pushed.checkout_request_id)

    shape, early, result = observe(sides, scenario)
    assert shape == ("StkAccepted", True, "ws_CO_")
    assert early[0] == "DarajaError" and early[1]["being_processed"]
    assert result == CUSTOMER_ANSWERS[answer] and isinstance(result.result_code, str)


def test_a_query_for_a_push_no_one_made_is_refused_for_good(sides):
    def scenario(side: Side):
        return refused(lambda: side.port.stk_query("ws_CO_01012026000000000712345678"))

    assert observe(sides, scenario)[1]["kind"] == "permanent"


# ---- B2C and transaction status ----------------------------------------------------


def test_a_b2c_is_accepted_under_its_originator_and_a_repeat_is_refused_as_a_duplicate(sides):
    def scenario(side: Side):
        originator = f"o-{secrets.token_hex(6)}"
        first = accepted(b2c(side, originator), originator)
        again = refused(lambda: b2c(side, originator, amount=70))
        return first, again

    first, again = observe(sides, scenario)
    assert first == ("AG_", True)
    assert again[1]["duplicate"] and again[1]["kind"] == "permanent"


@pytest.mark.parametrize("fault", ["timeout", "http_500"])
def test_a_b2c_whose_answer_was_lost_reached_m_pesa(sides, fault):
    def scenario(side: Side):
        originator = f"o-{secrets.token_hex(6)}"
        side.break_next("b2c", fault, after_send=True)
        lost = refused(lambda: b2c(side, originator))
        return lost, refused(lambda: b2c(side, originator))

    lost, again = observe(sides, scenario)
    assert lost[1]["kind"] == "ambiguous" and again[1]["duplicate"]


def test_a_b2c_refused_as_sent_never_took_effect(sides):
    def scenario(side: Side):
        originator = f"o-{secrets.token_hex(6)}"
        side.break_next("b2c", "http_400")
        refusal = refused(lambda: b2c(side, originator))
        return refusal, accepted(b2c(side, originator), originator)

    refusal, later = observe(sides, scenario)
    assert refusal[1]["kind"] == "permanent" and later == ("AG_", True)


def test_a_status_query_is_accepted_for_a_payment_known_or_not(sides):
    def scenario(side: Side):
        originator = f"o-{secrets.token_hex(6)}"
        b2c(side, originator)
        known = status(side, originator)
        unknown = status(side, "o-never-sent")
        return [
            (q.conversation_id[:3], bool(q.originator_conversation_id),
             q.originator_conversation_id != originator)
            for q in (known, unknown)
        ]  # fmt: skip

    assert observe(sides, scenario) == [("AG_", True, True)] * 2


# ---- Daraja's failures, as the caller sees them ------------------------------------


@pytest.mark.parametrize("api", sorted(SANDBOX_APIS))
@pytest.mark.parametrize("fault", ["http_400", "http_500"])
def test_each_api_refused_by_daraja(sides, api, fault):
    def scenario(side: Side):
        pushed = push(side)
        originator = f"o-{secrets.token_hex(6)}"
        side.break_next(api, fault)
        call = {
            "stk_push": lambda: push(side),
            "stk_query": lambda: side.port.stk_query(pushed.checkout_request_id),
            "b2c": lambda: b2c(side, originator),
            "transaction_status": lambda: status(side, originator),
            "pay_bill": lambda: pay_bill(side),
        }[api]
        return refused(call)

    got = observe(sides, scenario)
    assert got[1]["kind"] == ("permanent" if fault == "http_400" else "ambiguous")


def test_an_stk_push_whose_answer_never_came_is_ambiguous(sides):
    def scenario(side: Side):
        side.break_next("stk_push", "timeout")
        return refused(lambda: push(side))

    assert observe(sides, scenario)[1]["kind"] == "ambiguous"


# ---- C2B: the paybill's URLs, and a payment into it asked about by its receipt --------


def register(side: Side, confirmation: str, validation: str, response_type: str = "Cancelled"):
    return side.port.register_c2b_urls(
        confirmation_url=confirmation, validation_url=validation, response_type=response_type
    )


def test_the_paybill_urls_are_registered(sides):
    def scenario(side: Side):
        return register(side, "http://127.0.0.1:9/callbacks/c2b/confirmation/t",
                        "http://127.0.0.1:9/callbacks/c2b/validation/t")  # fmt: skip

    assert observe(sides, scenario) is None


@pytest.mark.parametrize(
    ("confirmation", "validation", "response_type"),
    [
        ("http://127.0.0.1:9/mpesa/confirm", "http://127.0.0.1:9/validate", "Cancelled"),
        ("http://127.0.0.1:9/confirm", "http://127.0.0.1:9/Safaricom/validate", "Cancelled"),
        ("http://127.0.0.1:9/confirm", "http://127.0.0.1:9/validate", "Rejected"),
    ],
)
def test_a_registration_daraja_refuses_is_refused_for_good(
    sides, confirmation, validation, response_type
):
    def scenario(side: Side):
        return refused(lambda: register(side, confirmation, validation, response_type))

    got = observe(sides, scenario)
    assert got[0] == "DarajaError" and got[1]["kind"] == "permanent"


def test_a_status_query_by_receipt_is_accepted_known_or_not(sides):
    def scenario(side: Side):
        query = side.port.transaction_status(
            transaction_id="UKT7ZQ4M2P", occasion="ORDER", result_url=CALLBACK,
            timeout_url=CALLBACK,
        )  # fmt: skip
        return query.conversation_id[:3], bool(query.originator_conversation_id)

    assert observe(sides, scenario) == ("AG_", True)


def test_a_reversal_is_accepted_under_the_gateways_ids(sides):
    def scenario(side: Side):
        taken = side.port.reverse(
            transaction_id="UKT7ZQ4M2P", amount=250, remarks="PayTrace return",
            occasion="ORDER", result_url=CALLBACK, timeout_url=CALLBACK,
        )  # fmt: skip
        return taken.conversation_id[:3], bool(taken.originator_conversation_id)

    assert observe(sides, scenario) == ("AG_", True)


# ---- B2B: a biller's paybill, and its account holder ----------------------------------


def test_a_bill_is_accepted_under_the_gateways_ids(sides):
    def scenario(side: Side):
        taken = pay_bill(side)
        return taken.conversation_id[:3], bool(taken.originator_conversation_id)

    assert observe(sides, scenario) == ("AG_", True)


@pytest.mark.parametrize(("fault", "kind"), [("timeout", "ambiguous"), ("http_500", "ambiguous")])
def test_a_bill_whose_answer_was_lost_is_ambiguous(sides, fault, kind):
    def scenario(side: Side):
        side.break_next("pay_bill", fault, after_send=True)
        return refused(lambda: pay_bill(side))

    assert observe(sides, scenario)[1]["kind"] == kind


def test_the_biller_names_the_account_holder_or_does_not_know_the_account(sides):
    def scenario(side: Side):
        known = side.port.bill_account(paybill="888880", account="14523678901")
        unknown = side.port.bill_account(paybill="888880", account="14523670000")
        return bool(re.fullmatch(r"[A-Z]+ [A-Z]\.", known or "")), unknown

    assert observe(sides, scenario) == (True, None)
