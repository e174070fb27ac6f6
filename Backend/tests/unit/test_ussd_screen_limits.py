"""Every screen, in every language, with the longest values a user can have,
fits a handset: at most 182 characters, GSM-7 only, CON or END."""

from __future__ import annotations

import asyncio
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.domain.gsm7 import is_gsm7
from app.ussd.engine import Context, Info, Menu, Prompt, State, _render_current
from app.ussd.flow import FLOW
from app.ussd.texts import LANGUAGES, TEXTS, text
from tests.unit.fakes import FakeUssdServices
from tests.unit.ussd_harness import PHONE, make_phone

LONGEST = {
    "first": "W" * 20,
    "shortcode": "*384*123*999#",
    "paytrace_id": "PT12345678",
    "minutes": 1440,
    "left": 2,
    "feature": "Anwani yangu ya Stellar",
}
WORST_USER = {
    "user_id": 1,
    "paytrace_id": "PT12345678",
    "phone": "+254712345678",
    "full_name": "W" * 30 + " " + "W" * 29,
    "language": "en",
    "role": "employer",
    "stellar_address": "G" + "W" * 55,
    "activation_status": "failed",
}


def _fits(response: str) -> None:
    assert response.startswith(("CON ", "END "))
    assert len(response) <= 182, (len(response), response)
    assert is_gsm7(response), response


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("screen_id", sorted(FLOW.screens))
def test_every_screen_fits_a_handset_on_every_page(language, screen_id):
    registered = screen_id in {"main", "account", "details", "address", "language"} or (
        screen_id.startswith("pin.")
    )
    state = State(
        phone=PHONE,
        language=language,
        user=WORST_USER if registered else None,
        stack=[FLOW.home_registered if registered else FLOW.home_unregistered, screen_id],
    )
    ctx = Context(state, FakeUssdServices(), "s", "h", "*384*123*999#", 1440)
    seen = []
    for page in range(6):
        state.page = page
        for notice, error in ((None, None), ("err.pin_mismatch", ("err.wrong_pin", {"left": 2}))):
            state.notice = notice
            rendered = _render_current(FLOW, ctx, error)
            _fits(rendered.response)
            seen.append(rendered.response)
    screen = FLOW.screens[screen_id]
    assert isinstance(screen, Menu | Prompt | Info)
    assert text(language, "nav.back_home") in seen[0]  # back/home offered off the home screen


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("key", sorted(k for k in TEXTS["en"] if k.startswith("end.")))
def test_every_closing_text_fits_a_handset(language, key):
    body = text(language, key, **LONGEST)
    _fits(f"END {body}")


def test_both_languages_have_every_text():
    assert set(TEXTS["en"]) == set(TEXTS["sw"])
    placeholders = re.compile(r"{(\w+)}")
    for key, english in TEXTS["en"].items():
        assert set(placeholders.findall(english)) == set(placeholders.findall(TEXTS["sw"][key]))


_INPUTS = st.one_of(
    st.sampled_from(["", "0", "00", "98", "1", "2", "3", "4", "5", "6", "7", "99", "***"]),
    st.sampled_from(["4821", "5937", "1234", "abcd", "Jane Wanjiku", "x" * 5000]),
    st.text(max_size=40),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(registered=st.booleans(), inputs=st.lists(_INPUTS, max_size=12))
def test_any_sequence_of_inputs_gets_a_valid_screen(registered, inputs):
    services = FakeUssdServices()
    if registered:
        services.add_user(PHONE, "Jane Wanjiku", "4821")
    phone = make_phone(services=services)
    _fits(phone.dial())
    for value in inputs:
        response = phone.send(value.replace("*", "")[:5000])
        _fits(response)
        if response.startswith("END "):
            break


def test_fake_redis_harness_is_isolated_per_phone():
    # Guards the harness itself: two phones do not share sessions.
    a, b = make_phone(), make_phone()
    a.dial()
    assert asyncio.run(b.store._redis.keys("*")) == []
