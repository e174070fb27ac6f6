"""Requests to pay with no I/O: the payer's SMS fits one GSM-7 part with the longest
name, amount, description and short code, in both languages; a pending request past its
order's time reads as expired."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.config import Settings
from app.domain.gsm7 import is_gsm7
from app.domain.merchants import DISPLAY_NAME_MAX
from app.domain.money import format_kes
from app.domain.pay_orders import DESCRIPTION_MAX, MAX_AMOUNT
from app.domain.records.pay_requests import PayRequestRow, snapshot
from app.services.ledger import sms_time
from app.services.sms_texts import render_sms

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("language", ["en", "sw"])
def test_the_payers_sms_is_one_gsm7_part_at_its_longest(language):
    default_code = Settings.model_fields["ussd_service_codes"].default[0]
    message = render_sms(
        "pay_request",
        language,
        name="W" * DISPLAY_NAME_MAX,
        amount=format_kes(MAX_AMOUNT),
        label="W" * DESCRIPTION_MAX,
        shortcode=default_code,
        until=sms_time(T0),
    )
    assert is_gsm7(message) and len(message) <= 160, (len(message), message)


def request(status: str = "pending") -> PayRequestRow:
    return PayRequestRow(
        id=1, order_id=2, merchant_id=3, payer_user_id=4, phone="+254712345678",
        status=status, created_at=T0, expires_at=T0 + timedelta(minutes=15),
        approved_at=None, declined_at=None, expired_at=None, canceled_at=None,
    )  # fmt: skip


def test_a_pending_request_past_its_orders_time_reads_as_expired():
    due = T0 + timedelta(minutes=15)
    assert request().shown(due - timedelta(microseconds=1)).status == "pending"
    shown = request().shown(due)
    assert (shown.status, shown.expired_at) == ("expired", due)
    assert snapshot(shown)["status"] == "expired"
    assert request("declined").shown(due).status == "declined"  # settled stays settled
