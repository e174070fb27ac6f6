"""The payout rules that need no database: how much "all available" is under the B2C fee
bands, and how a payout's status reads from its withdrawal."""

from __future__ import annotations

import pytest

from app.domain.merchant_payouts import daily_spendable, is_public_id, largest_payout, status_of

KES = 100
# The seeded 'withdrawal' bands (migration 0008): (min, max, fee), cents, inclusive.
BANDS = [
    (1, 10_000, 500),
    (10_001, 100_000, 1_500),
    (100_001, 500_000, 2_500),
    (500_001, 2_000_000, 3_500),
    (2_000_001, 25_000_000, 5_000),
]


def best(balance: int) -> tuple[int, int] | None:
    return largest_payout(balance, BANDS, minimum=10 * KES, maximum=250_000 * KES)


def test_all_available_is_the_balance_less_its_fee_in_whole_shillings():
    assert best(497_500) == (495_000, 2_500)
    assert best(497_599) == (495_000, 2_500)  # cents that make no shilling stay
    assert best(497_600) == (495_100, 2_500)


def test_a_fee_step_can_make_a_lower_band_the_best_payout():
    # 101,600 - 2,500 = 99,100 in the third band is below its floor: the second band's
    # fee leaves 100,000, its top.
    assert best(101_600) == (100_000, 1_500)
    # Just over the second band: its fee (KES 15) leaves the most.
    assert best(102_000) == (100_000, 1_500)
    assert best(102_600) == (100_100, 2_500)


def test_nothing_fits_below_the_smallest_payout_and_its_fee():
    assert best(1_499) is None
    assert best(1_500) == (1_000, 500)
    assert best(0) is None


def test_the_m_pesa_cap_holds_however_large_the_balance():
    assert best(10**12) == (250_000 * KES, 5_000)


@pytest.mark.parametrize(
    ("withdrawal", "ended", "shown"),
    [
        ("held", False, "pending"),
        ("submitted", False, "pending"),
        ("completed", True, "paid"),
        ("released", True, "failed"),
        ("review", True, "failed"),  # paid after its release: the money is back
        ("review", False, "pending"),  # paid another amount: an operator decides
    ],
)
def test_a_payouts_status_reads_from_its_withdrawal(withdrawal, ended, shown):
    assert status_of(withdrawal, ended) == shown


def test_public_ids():
    assert is_public_id("po_" + "0a" * 12)
    assert not is_public_id("re_" + "0a" * 12)
    assert not is_public_id("po_" + "0A" * 12)
    assert not is_public_id("po_123")


def test_a_daily_payout_takes_only_what_is_above_the_minimum_to_keep():
    assert daily_spendable(10_000, keep=0, threshold=0) == 10_000
    assert daily_spendable(10_000, keep=4_000, threshold=0) == 6_000
    # Never below zero, whatever the minimum.
    assert daily_spendable(10_000, keep=12_000, threshold=0) == 0


def test_no_daily_payout_while_what_is_above_the_minimum_is_under_the_threshold():
    assert daily_spendable(10_000, keep=4_000, threshold=6_001) is None
    assert daily_spendable(10_000, keep=4_000, threshold=6_000) == 6_000
    assert daily_spendable(0, keep=0, threshold=1) is None
