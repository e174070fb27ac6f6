"""The biller catalogue's rules, pure: accounts, amounts, fees, and reading AT's answers.
Every biller and band is read from the seeds, never copied."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.domain import bills
from app.domain.bills import AccountRefused
from app.integrations.airtime import (
    AirtimeError,
    Failure,
    TopUpState,
    cents_of,
    parse_find_answer,
    parse_send_answer,
)
from tests.support import seeds

SAFARICOM, AIRTEL, TELKOM = "+254712345678", "+254733123456", "+254771234567"


def test_every_biller_names_a_rule_a_rail_and_a_fee_for_all_it_takes():
    for biller in seeds.billers():
        assert biller.rule.kind in ("digits", "phone") and len(biller.name) <= bills.NAME_MAX
        assert (biller.rail == bills.DARAJA_B2B) == (biller.paybill is not None)
        assert (biller.rail == bills.AT_AIRTIME) == (biller.rule.kind == "phone")
        # Both ends of its range, and every band edge inside it, carry a fee.
        edges = {biller.min_amount, biller.max_amount}
        for band in seeds.fee_bands(biller.fee_kind):
            edges |= {band.min_amount, band.max_amount}
        inside = [a for a in edges if biller.min_amount <= a <= biller.max_amount]
        assert all(seeds.fee(biller.fee_kind, a) is not None for a in inside), biller.code


def test_the_issue_s_billers_are_seeded_with_their_paybills():
    assert seeds.biller("kplc_prepaid").paybill == "888880"
    assert seeds.biller("kplc_postpaid").paybill == "888888"
    assert {b.network for b in seeds.billers() if b.category == "airtime"} == {
        "safaricom",
        "airtel",
        "telkom",
    }


def test_a_meter_number_is_digits_of_its_rule_s_length_spaces_dropped():
    kplc = seeds.biller("kplc_prepaid")
    shortest = "1" * kplc.rule.min_length
    assert bills.check_account(kplc, " ".join(shortest)) == shortest
    for wrong, reason in [
        ("1" * (kplc.rule.min_length - 1), "wrong_length"),
        ("1" * (kplc.rule.max_length + 1), "wrong_length"),
        ("1234567890A", "not_digits"),
        ("١٢٣٤٥٦٧٨٩٠١", "not_digits"),
    ]:
        with pytest.raises(AccountRefused) as refused:
            bills.check_account(kplc, wrong)
        assert refused.value.reason == reason


def test_airtime_takes_a_kenyan_mobile_on_the_biller_s_network_only():
    safaricom = seeds.biller("airtime_safaricom")
    assert bills.check_account(safaricom, "0712 345 678") == SAFARICOM
    for wrong, reason in [(AIRTEL, "not_on_network"), ("+14155552671", "not_a_phone")]:
        with pytest.raises(AccountRefused) as refused:
            bills.check_account(safaricom, wrong)
        assert refused.value.reason == reason
    assert bills.check_account(seeds.biller("airtime_telkom"), TELKOM) == TELKOM


def test_an_amount_fits_in_whole_shillings_within_the_biller_s_range():
    kplc = seeds.biller("kplc_prepaid")
    assert bills.amount_fits(kplc, kplc.min_amount) and bills.amount_fits(kplc, kplc.max_amount)
    assert not bills.amount_fits(kplc, kplc.min_amount - 100)
    assert not bills.amount_fits(kplc, kplc.max_amount + 100)
    assert not bills.amount_fits(kplc, kplc.min_amount + 50)


def test_at_s_send_answer_sent_failed_or_unreadable():
    sent = {
        "errorMessage": "None",
        "numSent": 1,
        "responses": [{"status": "Sent", "requestId": "ATQid_1", "errorMessage": "None"}],
    }
    assert parse_send_answer(sent).request_id == "ATQid_1"
    failed = {"responses": [{"status": "Failed", "requestId": "None", "errorMessage": "x"}]}
    nobody = {"errorMessage": "Insufficient balance", "responses": []}
    for body, kind in [
        (failed, Failure.PERMANENT),
        (nobody, Failure.PERMANENT),
        ("<html>", Failure.AMBIGUOUS),
        ({"responses": [{"status": "Sent", "requestId": "None"}]}, Failure.AMBIGUOUS),
    ]:
        with pytest.raises(AirtimeError) as error:
            parse_send_answer(body)
        assert error.value.kind is kind


def test_at_s_status_is_believed_only_about_the_asked_transaction():
    def answer(status: str, transaction: str = "ATQid_1") -> dict:
        data = {"status": status, "transactionId": transaction, "value": "KES 100.0000"}
        return {"status": "Success", "data": data | {"destination": SAFARICOM}}

    found = parse_find_answer("ATQid_1", answer("Success"))
    assert (found.state, found.phone, found.amount) == (TopUpState.DELIVERED, SAFARICOM, 10_000)
    assert parse_find_answer("ATQid_1", answer("Failed")).state is TopUpState.FAILED
    assert parse_find_answer("ATQid_1", answer("Queued")).state is TopUpState.PENDING
    assert parse_find_answer("ATQid_1", answer("Success", "ATQid_2")).state is TopUpState.NOT_FOUND
    missing = {"status": "Failure", "errorMessage": "Transaction not found"}
    assert parse_find_answer("ATQid_1", missing).state is TopUpState.NOT_FOUND


def test_at_s_values_read_as_cents_never_floats():
    assert cents_of("KES 100.0000") == 10_000
    assert cents_of("KES 99.5") == 9_950
    assert cents_of("UGX 100") is None and cents_of("KES 1e3") is None


def test_the_trigger_allows_exactly_the_domain_s_steps():
    schema = (Path(__file__).resolve().parents[3] / "schema.sql").read_text()
    guard = schema[schema.index("CREATE FUNCTION bill_payments_guard") :]
    guard = guard[: guard.index("$$;")]
    steps = set()
    for old, news in re.findall(r"OLD\.status = '(\w+)' AND NEW\.status IN \(([^)]*)\)", guard):
        steps |= {(old, new) for new in re.findall(r"'(\w+)'", news)}
    assert steps == bills.STEPS
    # Only an open bill ends; only a delivered one is reversed, by an operator.
    assert {old for old, _ in bills.STEPS} == {*bills.OPEN_STATES, bills.DELIVERED}
