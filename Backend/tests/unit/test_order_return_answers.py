"""Only an answer about the reversal ends a return: a late answer to an earlier status
query about the payment itself (completed, same amount, no originator id) must not mark
the money returned to the payer when it has not been."""

from datetime import UTC, datetime, timedelta

from app.domain.records.mpesa import OrderPayment
from app.integrations.daraja_payloads import PaymentOutcome, Verdict
from app.services.mpesa import order_returns

NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)


class NoStore:
    """A unit of work that must not be written to: a mismatch changes nothing."""

    def __getattr__(self, name):
        raise AssertionError(f"touched {name}")


def test_an_answer_about_the_payment_itself_is_no_answer_about_its_return():
    payment = OrderPayment(
        id=7, source="c2b", trans_id="UKT7ZQ4M2P", bill_ref="48213575", amount=25_000,
        msisdn=None, payer_name=None, status="returning", order_id=3, transaction_id=None,
        not_found=0, result_desc=None, received_at=NOW, next_check_at=None, settled_at=None,
        reversal_originator_id="AG_20261204_reversal",
    )  # fmt: skip
    late = PaymentOutcome(
        verdict=Verdict.PAID, source="status_result", result_code="0", result_desc="done",
        amount=25_000, receipt="UKT7ZQ4M2P",
    )  # fmt: skip
    verdict, _ = order_returns.settle_return(
        NoStore(), payment, late, not_found_limit=3, interval=timedelta(minutes=1), now=NOW
    )
    assert verdict == "mismatch"
