"""Logs are masked by field: phones, names, codes and PINs never reach them in the clear,
and identifiers (ids, cursors, hashes, references) reach them exactly as they are."""

from __future__ import annotations

import json
import logging

import pytest

from app.logging_setup import JsonFormatter

PHONE = "+254712345678"


def logged(message: str = "event", *args, exc_info=None, **extra) -> dict:
    record = logging.LogRecord("paytrace.test", logging.INFO, __file__, 1, message, args, exc_info)
    record.__dict__.update(extra)
    return json.loads(JsonFormatter().format(record))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("cursor", "515123552"),
        ("next_cursor", "2547123456781"),
        ("provider_message_id", "ATXid_254712345678abc"),
        ("sms_id", 254712345678),
        ("transaction_id", 712345678),
        ("tx_hash", "0712345678" + "ab" * 27),
        ("reference", "PT0712345678"),
        ("checkout_request_id", "ws_CO_0712345678_254712345678"),
        ("operation_id", "2547123456789012"),
        ("dedupe_key", "sms:254712345678:welcome"),
    ],
)
def test_identifiers_are_logged_exactly_as_they_are(field, value):
    assert logged(**{field: value})[field] == value


def test_a_phone_field_is_masked_wherever_it_sits():
    entry = logged(
        phone=PHONE,
        recipient_phone="254712345678",
        callback={"PhoneNumber": 254712345678, "Amount": 100, "MpesaReceiptNumber": "RKT1X2Y3Z4"},
    )
    assert entry["phone"] == "+2547****5678"
    assert entry["recipient_phone"] == "2547****5678"
    assert entry["callback"]["PhoneNumber"] == "2547****5678"
    assert entry["callback"]["MpesaReceiptNumber"] == "RKT1X2Y3Z4"
    assert "712345" not in json.dumps(entry)


def test_names_codes_pins_and_tokens_are_masked_by_their_field():
    entry = logged(
        full_name="Jane Wanjiku",
        pin="4821",
        new_pin="5937",
        code="731904",
        otp="123456",
        access_token="eyJhbGciOi.secret.token",
        text="1*2*500*4821",
        body={"sessionId": "ATUid_1", "text": "1*4821", "phoneNumber": PHONE},
    )
    assert entry["full_name"] == "J*** W***"
    for field in ("pin", "new_pin", "code", "otp", "access_token", "text"):
        assert entry[field] == "***", field
    assert entry["body"] == {"sessionId": "ATUid_1", "text": "***", "phoneNumber": "+2547****5678"}
    dumped = json.dumps(entry)
    for secret in ("Wanjiku", "4821", "5937", "731904", "123456", "eyJhbGciOi"):
        assert secret not in dumped, secret


def test_a_phone_in_free_text_is_masked_but_numbers_around_it_are_not():
    entry = logged(
        "HTTP Request: POST http://127.0.0.1:8000/api/v1/admin/users/%2B254712345678/unlock"
        " cursor=515123552 ledger 4294967297",
        detail=f"paid from {PHONE}, asked 0712345678",
    )
    assert "%2B254712345678" not in entry["msg"] and "+2547****5678" in entry["msg"]
    assert "cursor=515123552 ledger 4294967297" in entry["msg"]
    assert entry["detail"] == "paid from +2547****5678, asked 07****5678"


def test_an_exception_carrying_a_phone_is_masked():
    try:
        raise ValueError(f"Key (phone)=({PHONE}) already exists")
    except ValueError:
        import sys

        entry = logged("insert failed", exc_info=sys.exc_info())
    assert PHONE not in entry["exc"] and "+2547****5678" in entry["exc"]
