"""The M-Pesa comparison, pure: every kind of difference, the totals in cents, which
East Africa Time day a payment straddling midnight belongs to, and the keys it is
matched by."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from app.domain.mpesa_reconciliation import (
    AMOUNT_MISMATCH,
    DUPLICATE,
    EAT,
    KINDS,
    MISSING_AT_MPESA,
    MISSING_AT_PAYTRACE,
    STATE_MISMATCH,
    Movement,
    StatementEntry,
    compare,
    day_bounds,
    eat_day,
)

KES = 100
DAY = date(2026, 11, 29)


def at(hour: int, minute: int = 0, second: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=EAT)


def deposit(ref: str, amount: int, when: datetime, status: str = "completed", **keys) -> Movement:
    return Movement("in", ref, status, amount, when, **keys)


def withdrawal(ref: str, amount: int, when: datetime, status: str = "completed", **keys):
    return Movement("out", ref, status, amount, when, **keys)


def paid_in(receipt: str, amount: int, when: datetime, **keys) -> StatementEntry:
    return StatementEntry(receipt, when, amount, "in", "254712345678", **keys)


def paid_out(receipt: str, amount: int, when: datetime, **keys) -> StatementEntry:
    return StatementEntry(receipt, when, amount, "out", "254712345678", **keys)


def kinds(comparison) -> list[tuple[str, str | None, str | None]]:
    return [
        (d.kind, d.movement.reference if d.movement else None, d.entry.receipt if d.entry else None)
        for d in comparison.differences
    ]


def test_a_day_where_both_sides_agree_is_sound_and_its_totals_match():
    movements = [
        deposit("DEP1", 500 * KES, at(9), receipt="UKT0000AA1"),
        withdrawal("WDR1", 200 * KES, at(10), receipt="UKT0000BB1"),
    ]
    entries = [
        paid_in("UKT0000AA1", 500 * KES, at(9, 0, 5)),
        paid_out("UKT0000BB1", 200 * KES, at(10, 0, 4)),
    ]

    comparison = compare(DAY, movements, entries)

    assert comparison.sound and comparison.matched == 2
    totals = comparison.totals
    assert (totals.mpesa_in, totals.paytrace_in, totals.difference_in) == (500 * KES, 500 * KES, 0)
    assert (totals.mpesa_out, totals.paytrace_out, totals.difference_out) == (
        200 * KES,
        200 * KES,
        0,
    )
    assert totals.counts == dict.fromkeys(KINDS, 0)


def test_a_credited_deposit_m_pesa_has_no_entry_for_is_missing_at_m_pesa():
    comparison = compare(DAY, [deposit("DEP1", 500 * KES, at(9), receipt="UKT0000AA1")], [])

    assert kinds(comparison) == [(MISSING_AT_MPESA, "DEP1", None)]
    assert comparison.totals.difference_in == -500 * KES
    assert comparison.totals.amounts[MISSING_AT_MPESA] == -500 * KES


def test_a_paid_out_withdrawal_m_pesa_has_no_entry_for_is_missing_at_m_pesa():
    comparison = compare(DAY, [withdrawal("WDR1", 300 * KES, at(9))], [])

    assert kinds(comparison) == [(MISSING_AT_MPESA, "WDR1", None)]
    assert comparison.totals.difference_out == -300 * KES


def test_an_entry_paytrace_knows_nothing_of_is_missing_at_paytrace():
    comparison = compare(DAY, [], [paid_in("UKT0000ZZ9", 700 * KES, at(12), reference="C2B")])

    assert kinds(comparison) == [(MISSING_AT_PAYTRACE, None, "UKT0000ZZ9")]
    assert comparison.totals.difference_in == 700 * KES
    assert comparison.totals.counts[MISSING_AT_PAYTRACE] == 1


def test_the_same_payment_for_another_amount_is_an_amount_mismatch():
    movements = [withdrawal("WDR1", 500 * KES, at(9), receipt="UKT0000BB1")]
    entries = [paid_out("UKT0000BB1", 5_000 * KES, at(9, 1))]

    comparison = compare(DAY, movements, entries)

    assert kinds(comparison) == [(AMOUNT_MISMATCH, "WDR1", "UKT0000BB1")]
    assert comparison.totals.amounts[AMOUNT_MISMATCH] == 4_500 * KES
    assert comparison.totals.difference_out == 4_500 * KES


@pytest.mark.parametrize(
    ("movement", "entry"),
    [
        # PayTrace released the hold; M-Pesa paid the customer anyway.
        (
            withdrawal("WDR1", 500 * KES, at(9), status="released", conversation_id="AG_1"),
            paid_out("UKT0000BB1", 500 * KES, at(9, 1), conversation_id="AG_1"),
        ),
        # Parked for review after a release: the ledger did not pay it out either.
        (
            withdrawal("WDR1", 500 * KES, at(9), status="review"),
            paid_out("UKT0000BB1", 500 * KES, at(9, 1), reference="WDR1"),
        ),
        # PayTrace says the customer did not pay; M-Pesa took the money.
        (
            deposit("DEP1", 500 * KES, at(9), status="failed", conversation_id="ws_CO_1"),
            paid_in("UKT0000AA1", 500 * KES, at(9, 1), conversation_id="ws_CO_1"),
        ),
        # Still pending at PayTrace (no callback, no query yet) while M-Pesa has it paid.
        (
            deposit("DEP1", 500 * KES, at(9), status="pending"),
            paid_in("UKT0000AA1", 500 * KES, at(9, 1), reference="DEP1"),
        ),
    ],
)
def test_m_pesa_paid_what_paytrace_s_ledger_did_not_move_is_a_state_mismatch(movement, entry):
    comparison = compare(DAY, [movement], [entry])

    assert kinds(comparison) == [(STATE_MISMATCH, movement.reference, entry.receipt)]
    totals = comparison.totals
    assert totals.amounts[STATE_MISMATCH] == 500 * KES
    assert (totals.difference_in, totals.difference_out) == (
        (500 * KES, 0) if movement.direction == "in" else (0, 500 * KES)
    )


def test_what_failed_on_both_sides_is_no_difference():
    movements = [
        deposit("DEP1", 500 * KES, at(9), status="failed"),
        withdrawal("WDR1", 500 * KES, at(9), status="released"),
        withdrawal("WDR2", 500 * KES, at(9), status="submitted"),
    ]

    comparison = compare(DAY, movements, [])

    assert comparison.sound and comparison.matched == 0
    assert comparison.totals.paytrace_in == comparison.totals.paytrace_out == 0


def test_a_deposit_settled_by_query_has_no_receipt_and_is_matched_by_its_checkout_or_reference():
    movements = [
        deposit("DEP1", 100 * KES, at(9), conversation_id="ws_CO_1"),
        deposit("DEP2", 200 * KES, at(9)),
    ]
    entries = [
        paid_in("UKT0000AA1", 100 * KES, at(9, 1), conversation_id="ws_CO_1"),
        paid_in("UKT0000AA2", 200 * KES, at(9, 1), reference="DEP2"),
    ]

    comparison = compare(DAY, movements, entries)

    assert comparison.sound and comparison.matched == 2


def test_an_entry_is_matched_once_and_a_deposit_never_matches_a_withdrawal_s_entry():
    movements = [
        deposit("DEP1", 100 * KES, at(9), receipt="UKT0000AA1"),
        deposit("DEP2", 100 * KES, at(9, 5), receipt="UKT0000AA1"),  # the same receipt again
        withdrawal("WDR1", 100 * KES, at(9, 6), receipt="UKT0000AA1"),
    ]
    entries = [paid_in("UKT0000AA1", 100 * KES, at(9, 1))]

    comparison = compare(DAY, movements, entries)

    assert comparison.matched == 1
    # The second claim on one receipt is a duplicate (PayTrace booked it twice).
    assert kinds(comparison) == [
        (DUPLICATE, "DEP2", "UKT0000AA1"),
        (MISSING_AT_MPESA, "WDR1", None),
    ]
    assert comparison.totals.difference_in == -100 * KES


# ---- day boundaries, East Africa Time ------------------------------------------------------

NEXT = DAY + timedelta(days=1)


def test_a_deposit_asked_before_midnight_and_paid_after_belongs_to_the_day_it_was_paid():
    movements = [deposit("DEP1", 500 * KES, at(23, 59, 58), receipt="UKT0000AA1")]
    entries = [paid_in("UKT0000AA1", 500 * KES, at(0, 0, 3, day=NEXT))]

    before, after = compare(DAY, movements, entries), compare(NEXT, movements, entries)

    assert before.sound and before.matched == 0 and before.totals.paytrace_in == 0
    assert after.sound and after.matched == 1 and after.totals.paytrace_in == 500 * KES


def test_a_withdrawal_recorded_after_midnight_for_a_payment_before_it_is_that_day_s():
    movements = [withdrawal("WDR1", 500 * KES, at(0, 0, 1, day=NEXT), receipt="UKT0000BB1")]
    entries = [paid_out("UKT0000BB1", 500 * KES, at(23, 59, 59))]

    assert compare(DAY, movements, entries).matched == 1
    assert compare(NEXT, movements, entries).matched == 0
    assert compare(NEXT, movements, entries).sound


def test_days_are_east_africa_days_not_utc_days():
    # 22:30 UTC on the 28th is 01:30 on the 29th in Nairobi.
    late_utc = datetime(2026, 11, 28, 22, 30, tzinfo=UTC)
    movements = [deposit("DEP1", 500 * KES, late_utc, receipt="UKT0000AA1")]

    assert eat_day(late_utc) == DAY
    assert kinds(compare(DAY, movements, [])) == [(MISSING_AT_MPESA, "DEP1", None)]
    assert compare(date(2026, 11, 28), movements, []).sound
    start, end = day_bounds(DAY)
    assert (start.astimezone(UTC).hour, (end - start)) == (21, timedelta(days=1))


def test_an_unmatched_entry_of_a_neighbouring_day_is_that_day_s_business():
    entries = [paid_in("UKT0000ZZ9", 700 * KES, at(23, 59, 59, day=DAY - timedelta(days=1)))]

    comparison = compare(DAY, [], entries)

    assert comparison.sound and comparison.totals.mpesa_in == 0


def test_each_direction_s_difference_is_the_sum_of_its_differences_deltas():
    movements = [
        deposit("DEP1", 100 * KES, at(8), receipt="R1"),  # missing at M-Pesa: -100
        deposit("DEP2", 200 * KES, at(8), receipt="R2"),  # amount 200 -> 250: +50
        deposit("DEP3", 300 * KES, at(8), status="failed"),  # state: +300
        deposit("DEP4", 400 * KES, at(8), receipt="R4"),  # agrees
        withdrawal("WDR1", 500 * KES, at(8), receipt="R5"),  # agrees
        withdrawal("WDR2", 600 * KES, at(8), receipt="R6"),  # missing at M-Pesa: -600
    ]
    entries = [
        paid_in("R2", 250 * KES, at(9)),
        paid_in("R3", 300 * KES, at(9), reference="DEP3"),
        paid_in("R4", 400 * KES, at(9)),
        paid_in("R7", 70 * KES, at(9)),  # missing at PayTrace: +70
        paid_out("R5", 500 * KES, at(9)),
        paid_out("R8", 80 * KES, at(9)),  # missing at PayTrace: +80
    ]

    comparison = compare(DAY, movements, entries)
    totals = comparison.totals

    assert comparison.matched == 2
    assert totals.counts == {
        MISSING_AT_MPESA: 2,
        MISSING_AT_PAYTRACE: 2,
        AMOUNT_MISMATCH: 1,
        STATE_MISMATCH: 1,
        DUPLICATE: 0,
    }
    for direction, difference in (("in", totals.difference_in), ("out", totals.difference_out)):
        deltas = [d.delta for d in comparison.differences if d.direction == direction]
        assert difference == sum(deltas)
    assert (totals.difference_in, totals.difference_out) == (
        (-100 + 50 + 300 + 70) * KES,
        (80 - 600) * KES,
    )
    assert (totals.mpesa_in, totals.paytrace_in) == (1_020 * KES, 700 * KES)


def test_a_receipt_m_pesa_lists_twice_is_a_duplicate_and_counts_once_more():
    movements = [withdrawal("BILL1", 300 * KES, at(8), receipt="R1", record="bill_payment")]
    entries = [paid_out("R1", 300 * KES, at(9)), paid_out("R1", 300 * KES, at(10))]

    comparison = compare(DAY, movements, entries)

    assert comparison.matched == 1
    assert kinds(comparison) == [(DUPLICATE, None, "R1")]
    assert comparison.totals.difference_out == comparison.differences[0].delta == 300 * KES


def test_two_records_claiming_one_m_pesa_transaction_are_a_duplicate():
    order = Movement("in", "R1", "paid", 250 * KES, at(8), receipt="R1", record="order_payment",
                     booked=True)  # fmt: skip
    movements = [deposit("DEP1", 250 * KES, at(7), receipt="R1"), order]

    comparison = compare(DAY, movements, [paid_in("R1", 250 * KES, at(9))])

    assert kinds(comparison) == [(DUPLICATE, "R1", "R1")]
    assert comparison.totals.difference_in == comparison.differences[0].delta == -250 * KES


def test_an_owed_back_payment_is_booked_and_its_reversal_matched_by_conversation_id():
    payment = Movement("in", "R1", "returned", 250 * KES, at(8), receipt="R1",
                       record="order_payment", booked=True)  # fmt: skip
    reversal = Movement("out", "R1", "returned", 250 * KES, at(8, 5), conversation_id="AG_1",
                        record="order_reversal", booked=True)  # fmt: skip
    still_open = Movement("out", "R2", "returning", 90 * KES, at(8, 6), conversation_id="AG_2",
                          record="order_reversal", booked=False)  # fmt: skip
    entries = [
        paid_in("R1", 250 * KES, at(8)),
        paid_out("RV1", 250 * KES, at(8, 5), conversation_id="AG_1"),
    ]

    comparison = compare(DAY, [payment, reversal, still_open], entries)

    assert comparison.sound and comparison.matched == 2
    reversed_anyway = [*entries, paid_out("RV2", 90 * KES, at(8, 7), conversation_id="AG_2")]
    assert kinds(compare(DAY, [payment, reversal, still_open], reversed_anyway)) == [
        (STATE_MISMATCH, "R2", "RV2")
    ]


def test_naive_times_are_refused():
    with pytest.raises(ValueError, match="aware"):
        eat_day(datetime(2026, 11, 29, 9))
