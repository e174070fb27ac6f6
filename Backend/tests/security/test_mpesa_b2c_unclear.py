"""A B2C request whose answer was unclear - a 500 or a timeout after M-Pesa took it,
or a request that hung before it did - is 'unknown' and never sent again. PayTrace
asks M-Pesa (transaction status) and the answer decides: paid out if M-Pesa paid,
released only after answers that find no such payment. Never paid twice."""

from __future__ import annotations

import pytest

from tests.security.mpesa_state import fault, outcomes
from tests.security.mpesa_withdrawal_support import KES, take, with_jane
from tests.support.mpesa import mpesa_rig, rows


@pytest.fixture
def rig(live_settings, database, tmp_path):
    with mpesa_rig(live_settings, database, tmp_path, daraja_timeout_s=0.5) as rig:
        yield with_jane(rig)


def b2c_requests(rig) -> list[tuple]:
    return rows(rig.database, "SELECT status, attempts FROM outbox WHERE kind = 'mpesa_b2c'")


@pytest.mark.parametrize("kind", ["http_500", "timeout"])
def test_a_b2c_m_pesa_took_whose_answer_was_lost_is_never_resent_and_paid_once(rig, kind):
    fault(rig, api="b2c", fault=kind, after_send=True, delay_s=1.5)
    w = take(rig, 100 * KES)

    rig.until(lambda: rig.withdrawal(w.reference)[0] == "completed", timeout_s=40)
    rig.settle_for(0.5)

    assert b2c_requests(rig) == [("unknown", 1)]  # one request, never sent again
    assert len(rig.journal("withdrawal_payout")) == 1 and rig.journal("withdrawal_release") == []
    # Paid out on M-Pesa's status answer (its result callback only asked for one).
    assert "paid" in outcomes(rig, "status_result")


def test_a_b2c_that_hung_before_m_pesa_took_it_is_released_only_on_m_pesas_word(rig):
    fault(rig, api="b2c", fault="timeout", delay_s=1.5)  # never processed
    w = take(rig, 100 * KES)

    _, _, _, code, not_found, queries = rig.until(
        lambda: (x := rig.withdrawal(w.reference))[0] == "released" and x, timeout_s=20
    )

    assert b2c_requests(rig) == [("unknown", 1)]
    assert (code, not_found) == ("not_found", rig.settings.mpesa_release_after_not_found - 1)
    assert queries >= rig.settings.mpesa_release_after_not_found
    assert rig.journal("withdrawal_payout") == [] and len(rig.journal("withdrawal_release")) == 1
