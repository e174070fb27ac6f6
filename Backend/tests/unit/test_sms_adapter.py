"""The Africa's Talking adapter: AT's answers and failures mapped to retry / fail / unknown."""

from __future__ import annotations

import pytest
import requests
import urllib3.exceptions

from app.config import Settings
from app.integrations.sms import (
    AfricasTalkingSms,
    FakeSms,
    SmsAmbiguous,
    SmsOutcome,
    SmsPermanent,
    SmsRetryable,
    classify_status_code,
    classify_transport_error,
    parse_response,
)
from tests.conftest import free_port

AT_ANSWER = {
    "SMSMessageData": {
        "Message": "Sent to 1/2 Total Cost: KES 0.8000",
        "Recipients": [
            {
                "statusCode": 101,
                "number": "+254711000001",
                "status": "Success",
                "cost": "KES 0.8000",
                "messageId": "ATXid_abc",
            },
            {
                "statusCode": 403,
                "number": "+254711000403",
                "status": "InvalidPhoneNumber",
                "cost": "0",
                "messageId": "None",
            },
        ],
    }
}


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        (101, SmsOutcome.ACCEPTED),
        (102, SmsOutcome.ACCEPTED),
        (401, SmsOutcome.PERMANENT),
        (403, SmsOutcome.PERMANENT),
        (405, SmsOutcome.PERMANENT),
        (409, SmsOutcome.PERMANENT),
        (500, SmsOutcome.RETRYABLE),
        (502, SmsOutcome.RETRYABLE),
        (999, SmsOutcome.AMBIGUOUS),
        (None, SmsOutcome.AMBIGUOUS),
    ],
)
def test_each_at_status_code_maps_to_one_outcome(code, outcome):
    assert classify_status_code(code) is outcome


def test_at_answer_gives_one_result_per_recipient_and_no_fake_message_id():
    accepted, rejected = parse_response(AT_ANSWER)
    assert (accepted.message_id, accepted.cost, accepted.outcome) == (
        "ATXid_abc",
        "KES 0.8000",
        SmsOutcome.ACCEPTED,
    )
    # AT writes "None" for a recipient it refused: that is not a message id.
    assert rejected.message_id is None
    assert rejected.outcome is SmsOutcome.PERMANENT


def test_answer_that_sent_to_nobody_is_permanent():
    with pytest.raises(SmsPermanent, match="InvalidSenderId"):
        parse_response({"SMSMessageData": {"Message": "InvalidSenderId", "Recipients": []}})


@pytest.mark.parametrize("body", ["<html>oops</html>", {"unexpected": 1}, None, [1, 2]])
def test_unreadable_2xx_answer_is_ambiguous_because_at_may_have_sent(body):
    with pytest.raises(SmsAmbiguous):
        parse_response(body)


def _connection_error(reason: Exception) -> requests.ConnectionError:
    return requests.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/", reason))


def test_connection_never_made_is_retryable():
    refused = _connection_error(urllib3.exceptions.NewConnectionError(None, "refused"))
    assert isinstance(classify_transport_error(refused), SmsRetryable)
    assert isinstance(classify_transport_error(requests.ConnectTimeout()), SmsRetryable)


def test_read_timeout_or_dropped_connection_is_ambiguous():
    dropped = requests.ConnectionError(urllib3.exceptions.ProtocolError("Connection aborted."))
    assert isinstance(classify_transport_error(requests.ReadTimeout()), SmsAmbiguous)
    assert isinstance(classify_transport_error(dropped), SmsAmbiguous)


def test_real_sdk_against_a_closed_port_is_retryable():
    sms = AfricasTalkingSms(
        username="sandbox", api_key="k", base_url=f"http://127.0.0.1:{free_port()}", timeout_s=1
    )
    with pytest.raises(SmsRetryable):
        sms.send("hello", ["+254711000001"])


def test_number_at_would_refuse_is_permanent_without_calling_at():
    sms = AfricasTalkingSms(username="sandbox", api_key="k", base_url="http://192.0.2.1")
    with pytest.raises(SmsPermanent):
        sms.send("hello", ["0711000001"])


def test_without_api_key_the_sdk_points_at_the_local_sandbox(tmp_path):
    settings = Settings(_env_file=None, environment="test", data_dir=tmp_path, port=8123)
    assert settings.sms_sandbox_enabled
    sms = AfricasTalkingSms.from_settings(settings)
    assert sms.endpoint == "http://127.0.0.1:8123/sandbox/at/version1/messaging"


def test_with_api_key_the_sdk_talks_to_africas_talking(tmp_path):
    settings = Settings(
        _env_file=None,
        environment="test",
        data_dir=tmp_path,
        at_username="paytrace",
        at_api_key="real-key",
    )
    assert not settings.sms_sandbox_enabled
    assert AfricasTalkingSms.from_settings(settings).endpoint == (
        "https://api.africastalking.com/version1/messaging"
    )


def test_fake_sms_answers_as_scripted_then_succeeds():
    fake = FakeSms()
    fake.script("+254711000500", 500, SmsAmbiguous("read timeout"))
    assert fake.send("hi", ["+254711000500"])[0].outcome is SmsOutcome.RETRYABLE
    with pytest.raises(SmsAmbiguous):
        fake.send("hi", ["+254711000500"])
    assert fake.send("hi", ["+254711000500"])[0].message_id == "fake-3"
    assert len(fake.calls) == 3
