"""Hostile B2C and transaction-status callbacks: forged, replayed, reordered and
truncated. A hold is paid out or released only on M-Pesa's answer to a status query
PayTrace made, matched by the ConversationID it stored when it asked - never on a
callback's word, never by Occasion, never twice."""

from __future__ import annotations

import httpx
import pytest

from tests.security.mpesa_state import books, outcomes
from tests.security.mpesa_withdrawal_support import (
    KES,
    MSISDN,
    b2c_result,
    status_result,
    take,
    with_jane,
)
from tests.support.mpesa import mpesa_rig, one, rows

KINDS = ("stk", "b2c/result", "b2c/timeout", "status/result", "status/timeout")


@pytest.fixture
def rig(live_settings, database, tmp_path):
    with mpesa_rig(live_settings, database, tmp_path) as rig:
        yield with_jane(rig)


def submitted_silently(rig, amount: int, result: str = "success"):
    """A withdrawal M-Pesa took (and will pay, by default) but sends no result for."""
    rig.sandbox.scenario(phone=MSISDN, result=result, callback="none", api="b2c")
    w = take(rig, amount)
    rig.until(lambda: rig.withdrawal(w.reference)[0] == "submitted")
    return w


def journal(rig, kind: str) -> list:
    return rig.journal(kind)


def test_a_forged_failure_result_releases_nothing_m_pesa_is_asked(rig):
    w = submitted_silently(rig, 100 * KES)  # M-Pesa pays it
    before = books(rig.database)

    answer = rig.post_callback("b2c/result", b2c_result(w.originator_conversation_id, code=1))

    assert answer.status_code == 200
    assert books(rig.database) == before  # the hold is where it was
    assert outcomes(rig, "b2c_result") == ["confirming"]
    rig.until(lambda: rig.withdrawal(w.reference)[0] == "completed")
    assert journal(rig, "withdrawal_release") == [] and len(journal(rig, "withdrawal_payout")) == 1


def test_a_forged_paid_result_pays_nothing_out_m_pesa_is_asked(rig):
    w = submitted_silently(rig, 111 * KES, result="insufficient_funds")
    before = books(rig.database)

    rig.post_callback("b2c/result", b2c_result(w.originator_conversation_id, 0, amount_kes=111))

    assert books(rig.database) == before
    rig.until(lambda: rig.withdrawal(w.reference)[0] == "released")
    assert journal(rig, "withdrawal_payout") == []


def test_a_status_answer_naming_the_withdrawal_by_occasion_is_not_acted_on(rig):
    w = submitted_silently(rig, 100 * KES)
    before = books(rig.database)

    forged = status_result(
        "AG_20261129_not_asked", originator=w.originator_conversation_id, occasion=w.reference
    )
    assert rig.post_callback("status/result", forged).status_code == 200

    assert books(rig.database) == before
    assert outcomes(rig, "status_result") == ["unknown_request"]


def test_a_forged_queue_timeout_moves_nothing(rig):
    w = submitted_silently(rig, 100 * KES)
    before = books(rig.database)
    timeout = b2c_result(w.originator_conversation_id, code=1037)
    timeout["Result"]["ResultType"] = 1
    rig.post_callback("b2c/timeout", timeout)
    rig.post_callback("status/timeout", status_result("AG_20261129_not_asked"))
    assert books(rig.database) == before
    assert outcomes(rig, "b2c_timeout") == ["confirming"]
    assert outcomes(rig, "status_timeout") == ["unknown_request"]


@pytest.fixture
def patient_rig(live_settings, database, tmp_path):
    """The rig whose checker asks M-Pesa again only after 30 s: what moves in the test
    is the replays' doing, never a genuine second answer landing beside them (with the
    fast rig's 0.4 s, a slow machine let one in and the hold was rightly released)."""
    with mpesa_rig(live_settings, database, tmp_path, mpesa_status_query_interval_s=30.0) as rig:
        yield with_jane(rig)


def test_a_replayed_status_answer_counts_once(patient_rig):
    rig = patient_rig
    w = take(rig, 137 * KES)  # times out in M-Pesa's queue: never found
    rig.until(lambda: rig.withdrawal(w.reference)[4] == 1)  # one "no such payment"
    [query] = rows(
        rig.database, "SELECT conversation_id FROM mpesa_status_queries WHERE outcome IS NOT NULL"
    )[:1]
    [genuine] = [d["body"] for d in rig.sandbox.callbacks(query[0]) if d["kind"] == "status_result"]
    before = books(rig.database)

    for _ in range(3):
        assert rig.post_callback("status/result", genuine).status_code == 200

    assert books(rig.database) == before  # still one not-found answer: nothing released
    assert outcomes(rig, "status_result")[-3:] == ["duplicate"] * 3


def test_a_result_for_a_finished_withdrawal_changes_nothing(rig):
    w = take(rig, 100 * KES)
    rig.until(lambda: rig.withdrawal(w.reference)[0] == "completed")
    before = books(rig.database)
    rig.post_callback("b2c/result", b2c_result(w.originator_conversation_id, code=1))
    rig.post_callback("b2c/result", b2c_result(w.originator_conversation_id, code=0))
    rig.settle_for(0.5)
    assert books(rig.database) == before


@pytest.mark.parametrize("kind", KINDS)
def test_a_truncated_body_is_400_and_changes_nothing(rig, kind):
    w = submitted_silently(rig, 100 * KES)
    before = books(rig.database)
    whole = httpx.Request("POST", "/", json=b2c_result(w.originator_conversation_id)).content
    answer = httpx.post(rig.callback_url(kind), content=whole[: len(whole) // 2])
    assert answer.status_code == 400 and answer.json()["error"] == "malformed_callback"
    assert books(rig.database) == before


@pytest.mark.parametrize("kind", KINDS)
def test_a_wrong_token_is_refused_and_changes_nothing(rig, kind):
    w = submitted_silently(rig, 100 * KES)
    before = books(rig.database)
    answer = httpx.post(
        f"{rig.paytrace.url}/callbacks/mpesa/{kind}/not-the-token",
        json=b2c_result(w.originator_conversation_id),
    )
    assert answer.status_code == 403
    assert books(rig.database) == before
    # Stored as refused, once (M-Pesa's own answers to the checker's queries may land
    # beside it meanwhile: they are not this request).
    refused = "SELECT count(*) FROM inbound_callbacks WHERE verification = 'token_mismatch'"
    assert one(rig.database, refused)[0] == 1


def test_a_result_for_a_payment_not_yet_sent_changes_nothing(rig):
    w = take(rig, 100 * KES)  # the worker has not run: the B2C request is not sent
    before = books(rig.database)
    rig.post_callback("b2c/result", b2c_result(w.originator_conversation_id, code=1))
    rig.post_callback("b2c/result", b2c_result(w.originator_conversation_id, code=0))
    rig.checker.run_once()  # its request may still be sent: M-Pesa is not even asked
    assert books(rig.database) == before
    assert rig.withdrawal(w.reference)[0] == "held"
    rig.until(lambda: rig.withdrawal(w.reference)[0] == "completed")  # then as usual
