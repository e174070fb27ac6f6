"""Reading AT's delivery-report form: AT statuses to ours; anything malformed is a 400."""

from __future__ import annotations

import pytest

from app.api.callbacks import MalformedCallback, parse_delivery_report

FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize(
    ("at_status", "ours"),
    [
        ("Success", "delivered"),
        ("Failed", "failed"),
        ("Rejected", "failed"),
        ("Sent", "sent"),
        ("Submitted", "sent"),
        ("Buffered", "sent"),
    ],
)
def test_at_delivery_statuses_map_to_ours(at_status, ours):
    report = parse_delivery_report(FORM, f"id=ATXid_1&status={at_status}".encode())
    assert (report.message_id, report.status) == ("ATXid_1", ours)


def test_failed_report_keeps_at_failure_reason():
    body = b"id=ATXid_1&status=Failed&failureReason=AbsentSubscriber&networkCode=63902"
    report = parse_delivery_report(FORM, body)
    assert (report.failure_reason, report.network_code) == ("AbsentSubscriber", "63902")


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        (FORM, b"status=Success"),
        (FORM, b"id=ATXid_1"),
        (FORM, b"id=ATXid_1&status=Exploded"),
        (FORM, b"\xff\xfe"),
        ("application/json", b'{"id": "ATXid_1", "status": "Success"}'),
        (None, b""),
    ],
)
def test_malformed_delivery_report_is_refused(content_type, body):
    with pytest.raises(MalformedCallback):
        parse_delivery_report(content_type, body)
