"""The worker's parts that need no database: backoff, the handler registry, the SMS handler."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.db.repositories.outbox import OutboxRow
from app.integrations.sms import FakeSms, SmsAmbiguous, SmsPermanent, SmsRetryable
from app.worker.handlers import HandlerRegistry, SmsHandler, Verdict
from app.worker.outbox import exponential_backoff

PHONE = "+254711000001"


def sms_row(**payload: object) -> OutboxRow:
    payload = {"to": PHONE, "message": "PayTrace: hello", "template": "t"} | payload
    return OutboxRow(1, "sms", payload, 1, "k1", "sending", datetime.now(UTC), None)


def test_backoff_doubles_until_the_cap():
    no_jitter = [exponential_backoff(n, rng=lambda: 1.0) for n in range(1, 12)]
    assert no_jitter[:4] == [2.0, 4.0, 8.0, 16.0]
    assert max(no_jitter) == 600.0


def test_backoff_jitter_stays_between_half_and_full_delay():
    assert exponential_backoff(3, rng=lambda: 0.0) == 4.0
    assert exponential_backoff(3, rng=lambda: 0.999) < 8.0
    assert exponential_backoff(3) >= 4.0


def test_registry_dispatches_by_kind_and_refuses_two_handlers_for_one_kind():
    handler = SmsHandler(FakeSms())
    registry = HandlerRegistry(handler)
    assert registry.get("sms") is handler
    assert registry.kinds == ["sms"]
    with pytest.raises(ValueError, match="already registered"):
        registry.register(SmsHandler(FakeSms()))
    with pytest.raises(KeyError):
        registry.get("stellar_payment")


@pytest.mark.parametrize(
    ("answer", "verdict"),
    [
        (101, Verdict.DONE),
        (102, Verdict.DONE),
        (403, Verdict.FAILED),
        (500, Verdict.RETRY),
        (123, Verdict.UNKNOWN),
        (SmsRetryable("connect refused"), Verdict.RETRY),
        (SmsPermanent("bad number"), Verdict.FAILED),
        (SmsAmbiguous("read timeout"), Verdict.UNKNOWN),
    ],
)
def test_sms_handler_turns_at_answers_into_verdicts(answer, verdict):
    fake = FakeSms()
    fake.script(PHONE, answer)
    outcome = SmsHandler(fake).perform(sms_row())
    assert outcome.verdict is verdict
    assert fake.calls == [(PHONE, "PayTrace: hello")]


def test_sms_handler_fails_a_malformed_payload_without_sending():
    fake = FakeSms()
    outcome = SmsHandler(fake).perform(sms_row(message=""))
    assert outcome.verdict is Verdict.FAILED
    assert fake.calls == []


def test_sms_handler_opens_a_sealed_text_only_to_send_it():
    from app.services.keys import SmsSeal, derive_key

    seal = SmsSeal(derive_key("s" * 32, "sms-seal"))
    fake = FakeSms()
    sealed = sms_row(message=None, sealed=seal.seal("PayTrace code: 123456"))
    assert SmsHandler(fake, seal=seal).perform(sealed).verdict is Verdict.DONE
    assert fake.calls == [(PHONE, "PayTrace code: 123456")]


def test_sms_handler_fails_a_seal_it_cannot_open_without_sending():
    from app.services.keys import SmsSeal, derive_key

    sealed_elsewhere = SmsSeal(derive_key("another secret", "sms-seal")).seal("code")
    fake = FakeSms()
    seal = SmsSeal(derive_key("s" * 32, "sms-seal"))
    row = sms_row(message=None, sealed=sealed_elsewhere)
    assert SmsHandler(fake, seal=seal).perform(row).verdict is Verdict.FAILED
    assert SmsHandler(fake).perform(row).verdict is Verdict.FAILED  # no seal configured
    assert fake.calls == []
