"""A request that moves money through M-Pesa (B2C, B2B, a reversal) is sent again only
when Daraja's answer proves it never reached M-Pesa; a 5xx or an unclear answer may
have been taken, so it is never resent (a second reversal of one payment, a second
payout): M-Pesa's status answer decides."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.domain.records.admin import OutboxRow
from app.integrations.daraja import DarajaError, Failure
from app.worker.handlers import Verdict
from app.worker.mpesa_handlers import CallbackLinks, at_most_once
from app.worker.mpesa_order_handlers import ReversalHandler

CASES = [
    (Failure.RETRYABLE, 429, Verdict.RETRY),  # turned away before M-Pesa took it
    (Failure.RETRYABLE, None, Verdict.RETRY),  # never connected
    (Failure.RETRYABLE, 503, Verdict.UNKNOWN),  # may have been taken
    (Failure.AMBIGUOUS, None, Verdict.UNKNOWN),
    (Failure.PERMANENT, 400, Verdict.FAILED),
]


@pytest.mark.parametrize(("kind", "status", "verdict"), CASES)
def test_only_a_request_that_never_reached_m_pesa_is_sent_again(kind, status, verdict):
    assert at_most_once(DarajaError(kind, "x", status=status)) is verdict


class RefusingDaraja:
    def __init__(self, error: DarajaError) -> None:
        self.error = error
        self.calls = 0

    def reverse(self, **_kwargs):
        self.calls += 1
        raise self.error


@pytest.mark.parametrize(("kind", "status", "verdict"), CASES)
def test_a_reversal_answered_5xx_is_never_resent(kind, status, verdict):
    daraja = RefusingDaraja(DarajaError(kind, "x", status=status))
    handler = ReversalHandler(
        daraja, CallbackLinks("http://paytrace.test", "t" * 32), result_wait_s=60
    )
    row = OutboxRow(1, "mpesa_reversal", {"payment_id": 1, "trans_id": "UKT7ZQ4M2P",
                    "amount": 250, "occasion": "o"}, 1, "k", "sending",
                    datetime.now(UTC), None)  # fmt: skip
    assert handler.perform(row).verdict is verdict
    assert daraja.calls == 1
