"""An STK query answered with an HTTP error (a 400, a 500, a timeout) says nothing
about the payment: it never fails the deposit. The deposit is asked about again with
back-off, its errors are counted, and an alert-level line is logged after a few;
only an explicit ResultCode ends it."""

from __future__ import annotations

import logging

import pytest

from app.db.unit_of_work import UnitOfWork
from app.services.mpesa.deposits import DepositRequest, request_deposit
from tests.security.mpesa_state import fault
from tests.support.mpesa import mpesa_rig, one
from tests.support.wallets import phone_of, register, registration_secrets

KES = 100
JANE = phone_of(1)
MSISDN = JANE.removeprefix("+")
FAILED_QUERY = "stk query failed; asking again later"


@pytest.fixture
def rig(live_settings, database, tmp_path):
    overrides = {"daraja_timeout_s": 0.5, "mpesa_stk_query_alert_after": 2}
    with mpesa_rig(live_settings, database, tmp_path, **overrides) as rig:
        box, pin_hash = registration_secrets(rig.settings)
        rig.user_id = register(database, box, pin_hash, phone=JANE, name="Jane Wanjiku")
        yield rig


def ask(rig, amount: int) -> str:
    requested = request_deposit(
        UnitOfWork(rig.database),
        DepositRequest(rig.user_id, amount, "k1", "api"),
        query_after_s=rig.settings.mpesa_stk_query_after_s,
    )
    return requested.deposit.reference


def query_errors(rig) -> tuple[int, str | None]:
    return one(rig.database, "SELECT query_errors, last_query_error FROM mpesa_deposits")


@pytest.mark.parametrize("kind", ["http_400", "http_500", "timeout"])
def test_a_query_error_never_fails_a_paid_deposit(rig, kind):
    rig.sandbox.scenario(phone=MSISDN, result="success", callback="none", api="stk")
    fault(rig, api="stk_query", fault=kind, delay_s=1.5)
    reference = ask(rig, 400 * KES)

    rig.until(lambda: query_errors(rig)[0] == 1)
    assert rig.deposit(reference)[0] == "pending" and rig.journal("deposit") == []

    rig.until(lambda: rig.deposit(reference)[0] == "completed", timeout_s=40)
    errors, last = query_errors(rig)
    assert errors == 1 and last
    assert len(rig.journal("deposit")) == 1


def test_repeated_query_errors_are_counted_and_alerted_then_the_result_decides(rig, caplog):
    rig.sandbox.scenario(phone=MSISDN, result="cancelled", callback="none", api="stk")
    fault(rig, api="stk_query", fault="http_400", count=3)
    reference = ask(rig, 300 * KES)

    with caplog.at_level(logging.WARNING, logger="paytrace.mpesa"):
        rig.until(lambda: rig.deposit(reference)[0] == "failed", timeout_s=40)

    assert rig.deposit(reference)[3] == "1032"  # an explicit ResultCode, not the 400s
    errors, last = query_errors(rig)
    assert errors == 3 and "400.002.02" in last
    failed = [r for r in caplog.records if r.getMessage() == FAILED_QUERY]
    assert [r.levelno for r in failed] == [logging.WARNING, logging.ERROR, logging.ERROR]
    assert [getattr(r, "alert", None) for r in failed] == [False, True, True]
