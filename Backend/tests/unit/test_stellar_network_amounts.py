"""Amounts and result codes of PayTrace's local Stellar network: exact stroops, and a
result XDR that says what Horizon's result codes say."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stellar_sdk import xdr

from app.sandboxes.stellar.amounts import INT64_MAX, format_amount, parse_amount
from app.sandboxes.stellar.codes import Outcome

PAYMENT = xdr.OperationType.PAYMENT
CREATE = xdr.OperationType.CREATE_ACCOUNT


@pytest.mark.parametrize(
    ("text", "stroops"),
    [
        ("12.3456789", 123_456_789),
        ("0.0000001", 1),
        ("1", 10_000_000),
        ("10000.5", 100_005_000_000),
        ("0", 0),
        ("922337203685.4775807", INT64_MAX),
    ],
)
def test_amount_strings_become_exact_stroops_and_back(text, stroops):
    assert parse_amount(text) == stroops
    assert parse_amount(format_amount(stroops)) == stroops
    assert len(format_amount(stroops).split(".")[1]) == 7


@pytest.mark.parametrize(
    "text", ["1.00000001", "-1", "1e7", "", "abc", "1.", ".5", "922337203685.4775808"]
)
def test_what_is_not_a_stellar_amount_is_refused(text):
    with pytest.raises(ValueError):
        parse_amount(text)


def test_horizon_writes_seven_decimals_and_a_sign():
    assert format_amount(123_456_789) == "12.3456789"
    assert format_amount(0) == "0.0000000"
    assert format_amount(-100) == "-0.0000100"


@given(st.integers(min_value=0, max_value=INT64_MAX))
def test_every_int64_amount_survives_a_round_trip(stroops):
    assert parse_amount(format_amount(stroops)) == stroops


def test_a_failed_transactions_result_xdr_carries_its_codes_and_fee():
    outcome = Outcome("tx_failed", 200, ((CREATE, "op_success"), (PAYMENT, "op_underfunded")))

    decoded = xdr.TransactionResult.from_xdr(outcome.result_xdr())

    assert decoded.fee_charged.int64 == 200
    assert decoded.result.code == xdr.TransactionResultCode.txFAILED
    payment = decoded.result.results[1].tr.payment_result
    assert payment.code == xdr.PaymentResultCode.PAYMENT_UNDERFUNDED
    assert outcome.result_codes() == {
        "transaction": "tx_failed",
        "operations": ["op_success", "op_underfunded"],
    }


def test_a_fee_bumps_result_xdr_nests_the_inner_result():
    inner = Outcome("tx_failed", 0, ((PAYMENT, "op_no_trust"),))
    outcome = Outcome("tx_fee_bump_inner_failed", 200, inner=inner, inner_hash=b"\x07" * 32)

    decoded = xdr.TransactionResult.from_xdr(outcome.result_xdr())

    pair = decoded.result.inner_result_pair
    assert decoded.result.code == xdr.TransactionResultCode.txFEE_BUMP_INNER_FAILED
    assert pair.transaction_hash.hash == b"\x07" * 32
    assert pair.result.result.results[0].tr.payment_result.code == (
        xdr.PaymentResultCode.PAYMENT_NO_TRUST
    )
    assert outcome.result_codes() == {
        "transaction": "tx_fee_bump_inner_failed",
        "inner_transaction": "tx_failed",
        "operations": ["op_no_trust"],
    }


def test_a_refusal_without_operation_results_encodes_no_results():
    decoded = xdr.TransactionResult.from_xdr(Outcome("tx_bad_seq", 100).result_xdr())
    assert decoded.result.code == xdr.TransactionResultCode.txBAD_SEQ
    assert decoded.result.results is None
