"""The scheduled payments' SMS: GSM-7, one part for a usual name and a large amount."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.config import Settings
from app.domain.gsm7 import is_gsm7
from app.domain.money import format_kes
from app.services.ledger import sms_time
from app.services.schedules.runs import SKIPS_TO_PAUSE
from app.services.sms_texts import SMS_TEXTS, render_sms

SCHEDULE_SMS = [name for name in SMS_TEXTS if name.startswith("schedule_")]
WHEN = sms_time(datetime(2028, 2, 29, 6, tzinfo=UTC))


@pytest.mark.parametrize("language", ["en", "sw"])
@pytest.mark.parametrize("template", SCHEDULE_SMS)
def test_every_schedule_sms_is_one_gsm7_part(template, language):
    message = render_sms(
        template,
        language,
        amount=format_kes(7_000_000),  # the basic tier's largest transfer
        name="Wanjiru Achieng Kamau Njo",  # 24 characters
        when=WHEN,
        retry=WHEN,
        count=3,
        skips=SKIPS_TO_PAUSE,
        shortcode=Settings.model_fields["ussd_service_codes"].default[0],
    )
    assert is_gsm7(message) and len(message) <= 160, (len(message), message)


def test_there_is_an_sms_for_each_step_in_both_languages():
    assert set(SCHEDULE_SMS) == {
        "schedule_reminder",
        "schedule_caught_up",
        "schedule_short",
        "schedule_skipped",
        "schedule_paused",
    }
    assert all(set(SMS_TEXTS[name]) == {"en", "sw"} for name in SCHEDULE_SMS)
