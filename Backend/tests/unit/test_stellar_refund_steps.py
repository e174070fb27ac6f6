"""What the refunder does with each answer of the network (pure), and the exact amount
it sends back."""

from __future__ import annotations

import pytest

from app.integrations.stellar import Submission, stroops_to_amount, to_stroops
from app.services.stellar_refunds import Step, step_for


@pytest.mark.parametrize(
    ("outcome", "on_ledger", "step"),
    [
        (Submission.APPLIED, None, Step.SENT),
        (Submission.RETRY, None, Step.RESEND),  # it may still apply: the same bytes later
        # An envelope already applied answers a resubmission with a bad sequence too: the
        # network's ledger says so, and it is sent, never signed again.
        (Submission.BAD_SEQUENCE, 812, Step.SENT),
        (Submission.EXPIRED, 812, Step.SENT),
        (Submission.BAD_SEQUENCE, None, Step.SIGN_AGAIN),
        (Submission.EXPIRED, None, Step.SIGN_AGAIN),
        (Submission.FAILED, None, Step.FAILED),
    ],
)
def test_each_answer_has_one_step(outcome, on_ledger, step):
    assert step_for(outcome, on_ledger) is step


@pytest.mark.parametrize(
    ("stroops", "amount"),
    [(1, "0.0000001"), (2_499_900_000, "249.9900000"), (2_500_000_001, "250.0000001")],
)
def test_a_refund_sends_back_exactly_what_arrived(stroops, amount):
    assert stroops_to_amount(stroops) == amount
    assert to_stroops(amount) == stroops
