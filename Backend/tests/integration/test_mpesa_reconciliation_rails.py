"""M-Pesa reconciliation of the rails beyond deposits and withdrawals, over real HTTP:
pay orders paid by Paybill and by STK push, a merchant's payout, the reversal of a
payment PayTrace owed back (and one still owed back that M-Pesa reversed anyway), a
B2B bill. Each is matched to its line of the local Daraja sandbox's statement, then
M-Pesa's side drifts and the report names the record and the kind. It reports and
never moves money."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from app.db.unit_of_work import UnitOfWork
from app.domain.mpesa_reconciliation import (
    AMOUNT_MISMATCH,
    DUPLICATE,
    MISSING_AT_MPESA,
    STATE_MISMATCH,
    eat_day,
)
from app.services.mpesa_reconciliation import MpesaReport, reconcile_day
from tests.support.mpesa import rows
from tests.support.mpesa_recon import (
    KES,
    bill_delivered,
    merchant_paid_out,
    mpesa_lists_twice,
    mpesa_loses,
    mpesa_loses_reversal,
    mpesa_paybill_amount,
    order_payment_returned,
    owed_back_reversed_by_hand,
    paid_order,
    recon_rig,
)
from tests.support.order_mpesa import AMOUNT, onboard, register


@pytest.fixture
def rig(live_settings, database, tmp_path):
    with recon_rig(live_settings, database, tmp_path) as rig:
        rig.merchant = onboard(database)
        register(rig)  # PayTrace's paybill, for C2B
        yield rig


def today() -> date:
    return eat_day(datetime.now(UTC))


def money(database) -> list[tuple]:
    return rows(database, "SELECT code, balance FROM ledger_accounts ORDER BY id") + rows(
        database, "SELECT count(*) FROM journal_transactions"
    )


def reconcile(rig) -> MpesaReport:
    before = money(rig.database)
    report = reconcile_day(UnitOfWork(rig.database), rig.statement, today())
    assert money(rig.database) == before  # it reports; it never moves money
    return report


def items(rig, report: MpesaReport) -> list[tuple]:
    return rows(
        rig.database,
        "SELECT kind, direction, record, paytrace_reference, mpesa_receipt, delta"
        " FROM mpesa_reconciliation_items WHERE report_id = %(r)s ORDER BY id",
        r=report.id,
    )


def test_pay_orders_paid_by_paybill_and_by_stk_are_matched_and_a_changed_amount_found(rig):
    paybill = paid_order(rig, rig.merchant.id, "o1")
    pushed = paid_order(rig, rig.merchant.id, "o2", stk=True)

    agreed = reconcile(rig)

    assert agreed.sound, agreed.comparison.differences
    assert agreed.comparison.matched == 2 and paybill != pushed
    totals = agreed.comparison.totals
    assert (totals.mpesa_in, totals.paytrace_in) == (2 * AMOUNT, 2 * AMOUNT)

    mpesa_paybill_amount(rig, paybill, AMOUNT // KES + 50)
    drifted = reconcile(rig)

    assert items(rig, drifted) == [
        (AMOUNT_MISMATCH, "in", "order_payment", paybill, paybill, 50 * KES)
    ]
    assert drifted.comparison.matched == 1 and drifted.version == 2


def test_a_merchant_payout_is_matched_and_one_m_pesa_lost_is_missing_at_m_pesa(rig):
    paid_order(rig, rig.merchant.id, "o1")
    receipt = merchant_paid_out(rig, rig.merchant.id, 200 * KES)

    agreed = reconcile(rig)

    assert agreed.sound, agreed.comparison.differences
    assert agreed.comparison.matched == 2
    assert agreed.comparison.totals.paytrace_out == agreed.comparison.totals.mpesa_out == 200 * KES

    mpesa_loses(rig, receipt)
    drifted = reconcile(rig)

    [(kind, direction, record, _, mpesa_receipt, delta)] = items(rig, drifted)
    assert (kind, direction, record, mpesa_receipt, delta) == (
        MISSING_AT_MPESA, "out", "merchant_payout", None, -200 * KES,
    )  # fmt: skip


def test_a_payment_owed_back_and_its_reversal_are_matched_and_a_lost_reversal_found(rig):
    trans_id = order_payment_returned(rig, rig.merchant.id, "o1")

    agreed = reconcile(rig)

    assert agreed.sound, agreed.comparison.differences
    assert agreed.comparison.matched == 2  # the payment in, its reversal out
    totals = agreed.comparison.totals
    assert (totals.mpesa_in, totals.mpesa_out, totals.paytrace_out) == (AMOUNT,) * 3

    mpesa_loses_reversal(rig, trans_id)
    drifted = reconcile(rig)

    assert items(rig, drifted) == [
        (MISSING_AT_MPESA, "out", "order_reversal", trans_id, None, -AMOUNT)
    ]


def test_a_payment_still_owed_back_that_m_pesa_reversed_anyway_is_a_state_mismatch(rig):
    trans_id = owed_back_reversed_by_hand(rig, rig.merchant.id, "o1")
    [hand_reversal] = [e.receipt for e in rig.statement.entries(today()) if e.direction == "out"]

    report = reconcile(rig)

    # The payment in is matched (booked, owed back); its reversal is open on PayTrace's
    # books while M-Pesa has paid it back: an operator closes it.
    assert report.comparison.matched == 1
    assert items(rig, report) == [
        (STATE_MISMATCH, "out", "order_reversal", trans_id, hand_reversal, AMOUNT)
    ]


def test_a_b2b_bill_is_matched_and_a_receipt_m_pesa_lists_twice_is_a_duplicate(rig):
    receipt = bill_delivered(rig, "kplc_prepaid", "12345678901", 500 * KES)

    agreed = reconcile(rig)

    assert agreed.sound, agreed.comparison.differences
    assert agreed.comparison.matched == 1
    assert agreed.comparison.totals.paytrace_out == 500 * KES

    mpesa_lists_twice(rig, receipt)
    drifted = reconcile(rig)

    assert items(rig, drifted) == [(DUPLICATE, "out", None, None, receipt, 500 * KES)]
    assert drifted.comparison.matched == 1
    assert drifted.comparison.totals.counts[DUPLICATE] == 1
