"""What the refunder does with each answer of the network (pure), and the exact amount
it sends back."""

from __future__ import annotations

import pytest

from app.integrations.stellar import Submission, stroops_to_amount, to_stroops
from app.services.settlement_expiry import Fate
from app.services.stellar_refunds import Step, step_for


@pytest.mark.parametrize(
    ("outcome", "verdict", "step"),
    [
        (Submission.APPLIED, None, Step.SENT),
        (Submission.RETRY, None, Step.RESEND),  # it may still apply: the same bytes later
        # A bad sequence or too late: the network's word decides. An envelope applied
        # before answers those too, and is sent, never signed again.
        (Submission.BAD_SEQUENCE, Fate.APPLIED, Step.SENT),
        (Submission.EXPIRED, Fate.APPLIED, Step.SENT),
        (Submission.BAD_SEQUENCE, Fate.DEAD, Step.SIGN_AGAIN),
        (Submission.EXPIRED, Fate.DEAD, Step.SIGN_AGAIN),
        # Not dead by the network's word (this machine's clock decides nothing): resent.
        (Submission.BAD_SEQUENCE, Fate.LIVE, Step.RESEND),
        (Submission.EXPIRED, None, Step.RESEND),
        (Submission.FAILED, None, Step.FAILED),
    ],
)
def test_each_answer_has_one_step(outcome, verdict, step):
    assert step_for(outcome, verdict) is step


@pytest.mark.parametrize(
    ("stroops", "amount"),
    [(1, "0.0000001"), (2_499_900_000, "249.9900000"), (2_500_000_001, "250.0000001")],
)
def test_a_refund_sends_back_exactly_what_arrived(stroops, amount):
    assert stroops_to_amount(stroops) == amount
    assert to_stroops(amount) == stroops
