"""The SmsSender port's contract: FakeSms answers as AfricasTalkingSms does through the
official africastalking SDK against the local AT SMS sandbox (app/sandboxes/at_sms.py),
each scenario run on both by tests/support/contract.py.

The same number stands for the same answer on both sides: the sandbox chooses AT's
failures by a number's last four digits, the fake is scripted with that code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from app.integrations.sms import AfricasTalkingSms, FakeSms, SmsError, SmsOutcome, SmsSender
from tests.support.contract import observe, outcome

GOOD = "+254711000201"
# The sandbox's test numbers (by their last four digits) and the codes AT gives them.
REFUSED = {"+254711000403": [403], "+254711000406": [406], "+254711000502": [502]}
FLAKY = "+254711000500"  # 500 on its first two tries, then accepted


@dataclass
class Side:
    port: SmsSender
    answers: Callable[[str, list[int]], None]  # (number, the codes AT will give it)


@pytest.fixture
def sides(live_server, live_settings) -> dict[str, Callable[[], Side]]:
    def fake() -> Side:
        sms = FakeSms()
        return Side(sms, lambda number, codes: sms.script(number, *codes))

    def real() -> Side:
        # The sandbox's numbers already answer so: nothing to arrange.
        return Side(AfricasTalkingSms.from_settings(live_settings), lambda number, codes: None)

    return {"fake": fake, "real": real}


def seen(results) -> object:
    """What the outbox reads of AT's answer: per recipient, everything but the ids'
    spelling (a message id is there or not)."""
    if isinstance(results, tuple):
        return results
    return [
        (r.number, r.status_code, r.status, r.message_id is not None, r.cost, r.outcome)
        for r in results
    ]


def send(side: Side, *recipients: str) -> object:
    return seen(outcome(lambda: side.port.send("PayTrace: hi", list(recipients)), SmsError))


def test_a_good_number_is_accepted(sides):
    got = observe(sides, lambda side: send(side, GOOD))
    assert got == [(GOOD, 101, "Success", True, "KES 0.8000", SmsOutcome.ACCEPTED)]


@pytest.mark.parametrize("number", sorted(REFUSED))
def test_a_number_at_refuses_is_answered_with_at_s_code_and_status(sides, number):
    def scenario(side: Side):
        side.answers(number, REFUSED[number])
        return send(side, number)

    [(_, code, status, has_id, cost, _)] = observe(sides, scenario)
    assert (code, has_id, cost) == (REFUSED[number][0], False, "0") and status


def test_a_gateway_error_passes_and_the_number_is_then_accepted(sides):
    def scenario(side: Side):
        side.answers(FLAKY, [500, 500])
        return [send(side, FLAKY) for _ in range(3)]

    first, second, third = observe(sides, scenario)
    assert first == second and first[0][5] is SmsOutcome.RETRYABLE
    assert third[0][5] is SmsOutcome.ACCEPTED


def test_one_answer_per_recipient_in_order(sides):
    def scenario(side: Side):
        side.answers("+254711000403", [403])
        return send(side, GOOD, "+254711000403")

    assert [answer[1] for answer in observe(sides, scenario)] == [101, 403]


@pytest.mark.parametrize("recipients", [["0711000201"], ["254711000201"], [], [GOOD, "+2547x"]])
def test_what_is_no_number_is_refused_before_at_is_asked(sides, recipients):
    got = observe(sides, lambda side: send(side, *recipients))
    assert got[0] == "SmsPermanent"
