"""The M-Pesa checker's transactions on real PostgreSQL (no Daraja): a deposit whose
push may still be made is left alone, one whose push failed is closed, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.db.unit_of_work import UnitOfWork
from app.services import outbox_dispatch
from app.services.mpesa import checks
from app.services.mpesa.deposits import DepositRequest, request_deposit
from tests.support.mpesa import one
from tests.support.wallets import phone_of, register, registration_secrets

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def deposit(settings, clean_database) -> str:
    box, pin_hash = registration_secrets(settings)
    user_id = register(clean_database, box, pin_hash, phone=phone_of(1))
    requested = request_deposit(
        UnitOfWork(clean_database),
        DepositRequest(user_id=user_id, amount=500_00, idempotency_key="api:k1", channel="api"),
        query_after_s=0,
        now=NOW,
    )
    return requested.deposit.reference


def push_claimed(database) -> int:
    row = outbox_dispatch.claim_one(
        UnitOfWork(database), kinds=["mpesa_stk"], worker_id="w1", lease_s=60
    )
    assert row is not None
    return row.id


def push_ended(database, outcome: str) -> None:
    row_id = push_claimed(database)
    outbox_dispatch.finish(UnitOfWork(database), row_id, outcome, error="no answer")


def deposit_status(database, reference: str) -> str:
    return one(database, "SELECT status FROM mpesa_deposits WHERE reference = %(r)s", r=reference)[
        0
    ]


def test_a_deposit_whose_push_may_still_be_made_is_not_closed(clean_database, deposit):
    assert checks.close_unpushed(UnitOfWork(clean_database), deposit) is False
    push_claimed(clean_database)
    assert checks.close_unpushed(UnitOfWork(clean_database), deposit) is False
    assert deposit_status(clean_database, deposit) == "requested"


@pytest.mark.parametrize(("push", "closed_as"), [("failed", "failed"), ("unknown", "unknown")])
def test_a_deposit_whose_push_ended_is_closed_once(clean_database, deposit, push, closed_as):
    push_ended(clean_database, push)

    assert checks.close_unpushed(UnitOfWork(clean_database), deposit) is True
    assert deposit_status(clean_database, deposit) == closed_as
    checks.close_unpushed(UnitOfWork(clean_database), deposit)
    assert deposit_status(clean_database, deposit) == closed_as


def test_a_claimed_deposit_is_leased_and_not_claimed_again(clean_database, deposit):
    lease = NOW + timedelta(minutes=5)
    uow = lambda: UnitOfWork(clean_database)  # noqa: E731

    claimed = checks.claim_due_deposits(uow(), now=NOW + timedelta(1), lease_until=lease, limit=5)

    assert [d.reference for d in claimed] == [deposit]
    assert (
        checks.claim_due_deposits(uow(), now=NOW + timedelta(seconds=1), lease_until=lease, limit=5)
        == []
    )


def test_stk_query_errors_are_counted(clean_database, deposit):
    uow = lambda: UnitOfWork(clean_database)  # noqa: E731
    [claimed] = checks.claim_due_deposits(uow(), now=NOW + timedelta(1), lease_until=NOW, limit=5)

    first = checks.stk_query_failed(uow(), claimed.id, error="500", next_check_at=NOW)
    second = checks.stk_query_failed(uow(), claimed.id, error="500", next_check_at=NOW)

    assert (first, second) == (1, 2)


def test_a_withdrawal_with_no_b2c_request_yet_may_still_be_sent(clean_database):
    assert checks.b2c_may_still_be_sent(UnitOfWork(clean_database), "no-such-request") is True
