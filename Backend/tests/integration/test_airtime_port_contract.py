"""The AirtimeRail port's contract: FakeAirtime answers as AfricasTalkingAirtime does
through the official africastalking SDK against the local AT Airtime sandbox
(app/sandboxes/at_airtime.py), each scenario run on both by tests/support/contract.py.

The same number stands for the same answer on both sides: the sandbox chooses AT's
behaviour by a number's last four digits, the fake is scripted with it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from app.integrations.airtime import (
    AfricasTalkingAirtime,
    AirtimeError,
    AirtimeRail,
    Failure,
    FakeAirtime,
    TopUpSent,
    TopUpState,
)
from app.integrations.sms import SANDBOX_API_KEY
from tests.support.bills import SEND_TIMEOUT_S
from tests.support.contract import observe, outcome

GOOD, FAILS_AT_ONCE, FAILS_LATER, SLOW = (
    "+254711000201",
    "+254711000403",
    "+254711000410",
    "+254711000408",
)
# What the sandbox does with each number, as the fake is scripted.
SCRIPT: dict[str, str | AirtimeError] = {
    FAILS_AT_ONCE: "refused",
    FAILS_LATER: "failed",
    SLOW: AirtimeError(Failure.AMBIGUOUS, "read timeout"),
}
KES = 100


@dataclass
class Side:
    port: AirtimeRail
    arrange: Callable[[str], None]


@pytest.fixture
def sides(live_server, live_settings) -> dict[str, Callable[[], Side]]:
    def fake() -> Side:
        rail = FakeAirtime()
        return Side(rail, lambda phone: rail.script(phone, SCRIPT[phone]))

    def real() -> Side:
        rail = AfricasTalkingAirtime(
            username=live_settings.at_username,
            api_key=SANDBOX_API_KEY,
            base_url=live_settings.at_base_url,
            timeout_s=SEND_TIMEOUT_S,
        )
        return Side(rail, lambda phone: None)  # the sandbox's numbers already answer so

    return {"fake": fake, "real": real}


def send(side: Side, phone: str, amount: int, key: str | None = None):
    return outcome(
        lambda: side.port.send(phone=phone, amount=amount, idempotency_key=key or uuid.uuid4().hex),
        AirtimeError,
        "kind",
    )


def status(side: Side, sent) -> tuple:
    assert isinstance(sent, TopUpSent), sent
    found = side.port.find(sent.request_id)
    return found.state, found.phone, found.amount


def test_a_top_up_is_sent_then_delivered(sides):
    def scenario(side: Side):
        return status(side, send(side, GOOD, 100 * KES))

    assert observe(sides, scenario) == (TopUpState.DELIVERED, GOOD, 100 * KES)


def test_a_number_at_fails_at_once_is_refused_and_nothing_is_sent(sides):
    def scenario(side: Side):
        side.arrange(FAILS_AT_ONCE)
        return send(side, FAILS_AT_ONCE, 10 * KES)

    assert observe(sides, scenario) == ("AirtimeError", {"kind": Failure.PERMANENT})


def test_a_top_up_at_fails_later_is_sent_then_failed(sides):
    def scenario(side: Side):
        side.arrange(FAILS_LATER)
        return status(side, send(side, FAILS_LATER, 10 * KES))

    assert observe(sides, scenario) == (TopUpState.FAILED, FAILS_LATER, 10 * KES)


def test_a_slow_answer_is_ambiguous(sides):
    def scenario(side: Side):
        side.arrange(SLOW)
        return send(side, SLOW, 10 * KES)

    assert observe(sides, scenario) == ("AirtimeError", {"kind": Failure.AMBIGUOUS})


def test_the_same_idempotency_key_is_one_top_up(sides):
    def scenario(side: Side):
        first, again = (send(side, GOOD, 10 * KES, key="bill-ABC") for _ in range(2))
        return first == again, status(side, again)

    assert observe(sides, scenario) == (True, (TopUpState.DELIVERED, GOOD, 10 * KES))


def test_an_id_at_does_not_know_is_not_found_never_failed(sides):
    def scenario(side: Side):
        return side.port.find("ATQid_nobody").state

    assert observe(sides, scenario) is TopUpState.NOT_FOUND


def test_cents_that_are_not_whole_shillings_are_refused_before_sending(sides):
    def scenario(side: Side):
        return send(side, GOOD, 10 * KES + 50)

    assert observe(sides, scenario) == ("AirtimeError", {"kind": Failure.PERMANENT})
