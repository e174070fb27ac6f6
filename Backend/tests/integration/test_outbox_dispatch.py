"""The outbox's database side on real PostgreSQL: a claim is committed before the
provider call, and a finish writes the outcome and the handler's record together."""

from __future__ import annotations

import pytest

from app.db.unit_of_work import UnitOfWork
from app.services import outbox_dispatch
from app.services.notifications import queue_sms
from app.worker.handlers import Verdict

PHONE = "+254711000001"


def queue(database, key: str) -> int:
    with UnitOfWork(database) as uow:
        outbox_id = queue_sms(uow, to=PHONE, template="pin_changed", language="en", dedupe_key=key)
        uow.commit()
    return outbox_id


def status(database, outbox_id: int) -> str:
    with UnitOfWork(database) as uow:
        return uow.outbox.get(outbox_id).status


def test_the_worker_verdicts_are_the_outcomes_the_outbox_records():
    assert {str(v) for v in Verdict} == {
        outbox_dispatch.DONE,
        outbox_dispatch.FAILED,
        outbox_dispatch.RETRY,
        outbox_dispatch.UNKNOWN,
    }


def test_a_claim_is_committed_before_the_call_and_taken_once(clean_database):
    outbox_id = queue(clean_database, "a")
    uow = lambda: UnitOfWork(clean_database)  # noqa: E731

    claimed = outbox_dispatch.claim_one(uow(), kinds=["sms"], worker_id="w1", lease_s=60)

    assert claimed is not None and (claimed.id, claimed.status, claimed.attempts) == (
        outbox_id,
        "sending",
        1,
    )
    assert status(clean_database, outbox_id) == "sending"
    assert outbox_dispatch.claim_one(uow(), kinds=["sms"], worker_id="w2", lease_s=60) is None


def test_a_finish_whose_record_fails_records_nothing(clean_database):
    outbox_id = queue(clean_database, "b")
    uow = lambda: UnitOfWork(clean_database)  # noqa: E731
    outbox_dispatch.claim_one(uow(), kinds=["sms"], worker_id="w1", lease_s=60)

    def record(unit: UnitOfWork) -> None:
        raise RuntimeError("the handler's write failed")

    with pytest.raises(RuntimeError):
        outbox_dispatch.finish(uow(), outbox_id, outbox_dispatch.DONE, error="", record=record)
    assert status(clean_database, outbox_id) == "sending"

    assert outbox_dispatch.finish(uow(), outbox_id, outbox_dispatch.RETRY, error="503", delay_s=0)
    assert status(clean_database, outbox_id) == "pending"
