"""Every screen, in every language, with the longest values a user can have,
fits a handset: at most 182 characters, GSM-7 only, CON or END."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.domain import bills
from app.domain.gsm7 import is_gsm7
from app.domain.merchants import DISPLAY_NAME_MAX
from app.domain.pay_orders import DESCRIPTION_MAX
from app.domain.pay_orders import MAX_AMOUNT as MAX_ORDER_AMOUNT
from app.domain.phone import mask
from app.domain.wages import ITEMS
from app.services.accounts import Profile
from app.services.bills.tokens import RECENT_TOKENS
from app.services.wages.employers import MAX_GROSS, NAME_MAX
from app.ussd.bills.flow import HOLDER_ON_SCREEN, PER_SCREEN
from app.ussd.engine import Context, Info, Menu, Prompt, State, _render_current
from app.ussd.flow import FLOW
from app.ussd.money_flow import NAME_ON_SCREEN
from app.ussd.repeat.flow import day_words
from app.ussd.statement_flow import statement_line
from app.ussd.texts import LANGUAGES, TEXTS, text
from app.ussd.wages.flow import MAX_SHOWN, NAME_SHOWN, PAYSLIPS_SHOWN
from tests.support import seeds
from tests.unit.fakes import FakeUssdServices, ledger_line
from tests.unit.ussd_harness import PHONE, make_phone

# Why a payment made with '9. Repeat monthly' was not set to repeat (repeat/flow.py).
REPEAT_WHY = ("err.sch_too_many", "rpt.failed")
LONGEST_NAME = "W" * 30 + " " + "W" * 29  # 60 characters, the most registration takes
LONGEST_PHONE = "+123456789012345"  # E.164's 15 digits
LONGEST = {
    "first": "W" * 20,
    "shortcode": "*384*123*999#",
    "paytrace_id": "PT12345678",
    "until": "31/12 23:59",  # a lock that ends on another day names it
    "limit": 999,
    "left": 2,
    "feature": "Anwani yangu ya Stellar",
    "name": "W" * NAME_ON_SCREEN,  # screens show at most this much of a name
    "masked_phone": mask(LONGEST_PHONE),
    "amount": "1,000,000",  # the largest transfer any tier allows (business)
    "fee": "100",
    "total": "1,000,100",
    "reference": "ABCDEFGHJK",
    "balance": "99,999,999.99",
    "needed": "99,999,999.99",
    "allowed": "30,000,000",  # the business tier's 30-day limit
    # Harambee (tests/unit/test_ussd_harambee.py renders its screens with its own worst)
    "title": "T" * 40,
    "code": "482913",
    "raised": "100,000,000",
    "target": "100,000,000",
    "due": "31/12/26",
    "refunded": 99_999,
    # Pay: the longest till a merchant can have, the longest order description
    "till": "9" * 7,
    "label": "W" * DESCRIPTION_MAX,
    # Scheduled payments: the next payment's day and time
    "when": "31/12/26 23:59",
    "rule": "Kila mwezi, tarehe 31, 23:59",
    # Buy airtime: the longest biller name (billers.name), a Kenyan mobile as shown
    "biller": "W" * bills.NAME_MAX,
    "phone": "0712 345 678",
    "low": "10",
    "high": "10,000",
    # Wages: the largest gross pay's net, and My pay's three payslips at their longest
    "net": "10,000,000",
    "lines": "\n".join(["31/12/26 Net 10,000,000 ABCDEFGHJK"] * PAYSLIPS_SHOWN),
    # Pay a bill: the longest word for an account, the longest account a rule takes, the
    # largest cashback (no more than the largest bill), the most tokens resent.
    "what": max(
        (t for k, t in (*TEXTS["en"].items(), *TEXTS["sw"].items()) if k.startswith("bill.word_")),
        key=len,
    ),
    "account": "9" * max(b.rule.max_length or 0 for b in seeds.billers()),
    "count": RECENT_TOKENS,
    # I employ someone: the largest gross pay, the longest "every", My pay's next pay line
    "gross": "10,000,000",
    "every": "kwa mwezi",
    "next": "Mshahara ujao 31/12/26 kutoka " + "W" * NAME_SHOWN + "\n",
    # A worker's name or deductions changed: the longest change (a new name at its longest)
    "change": "hati ya mshahara inasema " + "W" * NAME_MAX,
    # Repeat monthly: the longest day (a 29th-31st says "or month end"), the longest
    # reason a payment made was not set to repeat.
    "on": max((day_words(lang, 31) for lang in LANGUAGES), key=len),
    "why": max((text(lang, k) for lang in LANGUAGES for k in REPEAT_WHY), key=len),
}
WORST_USER = Profile(
    user_id=1,
    paytrace_id="PT12345678",
    phone="+254712345678",
    full_name="W" * 30 + " " + "W" * 29,
    language="en",
    role="employer",
    stellar_address="G" + "W" * 55,
    activation_status="failed",
)


def _fits(response: str) -> None:
    assert response.startswith(("CON ", "END "))
    assert len(response) <= 182, (len(response), response)
    assert is_gsm7(response), response


WORST_SCHEDULE = {
    "id": 1,
    "name": LONGEST_NAME,
    "amount": seeds.fee_bands("transfer")[-1].max_amount,
    "frequency": "monthly",
    "day": 31,
    "time": "23:59",
    "status": "active",
    "next": "31/12/26 23:59",
}
# The worst a money journey can leave in the session.
WORST_DATA = {
    "invitee": LONGEST_PHONE,
    "to": {"name": LONGEST_NAME, "phone": LONGEST_PHONE},
    # The longest display name and till a merchant can have.
    "merchant": {"name": "W" * DISPLAY_NAME_MAX, "till": "9" * 7},
    # The longest order description (an order with none shows "order <8 digits>").
    "order": {"code": "9" * 8, "description": "W" * DESCRIPTION_MAX},
    # Buy airtime: the longest biller name, a Kenyan mobile.
    "air": {
        "biller": "airtime_safaricom",
        "name": "W" * bills.NAME_MAX,
        "phone": "+254712345678",
        "low": 1_000,
        "high": 1_000_000,
    },
    # Pay a bill: a page of the longest names (its paging is held to a handset in
    # test_ussd_bills.py), the longest account and holder's name, the largest bill and
    # cashback.
    "b_all": [
        {
            "code": b.code,
            "name": "W" * bills.NAME_MAX,
            "rule": "dstv_smartcard",
            "low": b.min_amount,
            "high": b.max_amount,
        }
        for b in seeds.billers()[:PER_SCREEN]
    ],
    "bill": {
        "code": "kplc_postpaid",
        "name": "W" * bills.NAME_MAX,
        "rule": "dstv_smartcard",
        "account": "9" * max(b.rule.max_length or 0 for b in seeds.billers()),
        "holder": "W" * HOLDER_ON_SCREEN,
        "low": max(b.min_amount for b in seeds.billers()),
        "high": max(b.max_amount for b in seeds.billers()),
        "amount": max(b.max_amount for b in seeds.billers()),
        "fee": max(band.fee for band in seeds.fee_bands("bill")),
        # No cashback is more than its bill.
        "cashback": max(b.max_amount for b in seeds.billers()),
    },
    # A merchant's request to pay: the longest name, order amount and description.
    "request": {
        "id": 1,
        "code": "9" * 8,
        "name": "W" * DISPLAY_NAME_MAX,
        "amount": MAX_ORDER_AMOUNT,
        "description": "W" * DESCRIPTION_MAX,
    },
    # A scheduled payment picked, and a Swahili "pause" (the longest word); its list
    # (a paged prompt, as Harambee's) is held to a handset in test_ussd_schedules.py.
    "s_item": WORST_SCHEDULE,
    "s_change": "pause",
    # A new schedule at its longest: name, number, amount; monthly (the longer day question).
    "s_new": {
        "name": LONGEST_NAME,
        "phone": LONGEST_PHONE,
        "amount": seeds.fee_bands("transfer")[-1].max_amount,
        "frequency": "monthly",
        "day": 31,
    },
    # Pay worker: the most workers a screen lists, each with the longest name;
    # the largest gross pay's payslip (every item) and cost.
    "wg_list": [
        {
            "id": n,
            "name": "W" * NAME_SHOWN,
            "gross": MAX_GROSS,
            "frequency": "monthly",
            "items": list(ITEMS),
        }
        for n in range(MAX_SHOWN)
    ],
    # A worker picked: the longest name, the largest gross pay, monthly (the longer
    # option, the longer day question); a schedule on the 31st; new terms at their
    # largest.
    # every item deducted (the longest list); the longest new name (longer than any list
    # of items: test_the_deductions_switches_fit_with_every_choice renders the rest).
    "wg_pick": {
        "id": 1,
        "name": "W" * NAME_SHOWN,
        "gross": MAX_GROSS,
        "frequency": "monthly",
        "items": list(ITEMS),
    },
    "wg_det": {"name": "W" * NAME_MAX},
    "wg_sched": {"day": 31},
    "wg_edit": {"gross": MAX_GROSS, "frequency": "monthly"},
    "wg_run": {
        "id": 1,
        "name": "W" * NAME_SHOWN,
        "net": MAX_GROSS,
        "cost": 2 * MAX_GROSS,
        "deductions": {"nssf": 648_000, "shif": 27_500_000, "ahl": 15_000_000, "paye": 339_000_000},
    },
    # Add worker: the longest name and number, the largest gross pay, monthly.
    "wg_new": {
        "phone": LONGEST_PHONE,
        "name": "W" * NAME_MAX,
        "gross": MAX_GROSS,
        "frequency": "monthly",
        "items": list(ITEMS),
    },
    # Repeat monthly chosen on the 31st: the longest day a repeat screen says.
    "repeat": {"day": 31, "start": "2027-01-01"},
    # The top transfer band: the longest amount and fee a screen can show.
    "amount": seeds.fee_bands("transfer")[-1].max_amount,
    "fee": seeds.fee_bands("transfer")[-1].fee,
    "statement": [
        statement_line(
            ledger_line(datetime(2026, 12, 28, tzinfo=UTC), kind, amount, "ABCDEFGHJK", who)
        )
        for kind, amount, who in [
            ("transfer", -100_010_099, LONGEST_NAME),
            ("reversal", -100_010_099, None),
            ("cash_in", 100_000_099, None),
            ("withdrawal", -25_005_000, None),
            ("withdrawal_release", 25_005_000, None),
            ("deposit", 25_000_000, None),
            ("merchant_payment", -100_000_000, None),
        ]
        * 3
    ],
}
PIN_REASONS = ("err.pin_format", "err.wrong_pin")
# The reasons a screen can show above itself, beyond those the engine gives anywhere.
ANYWHERE = ("err.empty", "err.too_long", "err.invalid_option")
REASONS = {
    "send.phone": ("err.phone_invalid", "err.send_to_self"),
    "send.amount": (
        "err.amount_not_a_number",
        "err.amount_not_whole",
        "err.amount_not_positive",
        "err.amount_too_large",
        "err.limit_per_transaction",
        "err.limit_daily",
        "err.limit_rolling_30_days",
        "err.insufficient",
    ),
    "send.confirm": PIN_REASONS,
    "send.repeat": PIN_REASONS,
    "pay.till": (
        "err.till_invalid",
        "err.till_unknown",
        "err.till_closed",
        "err.order_code_invalid",
        "err.order_not_found",
        "err.order_paid",
        "err.order_expired",
        "err.order_canceled",
    ),
    "pay.amount": (
        "err.amount_not_a_number",
        "err.amount_not_whole",
        "err.amount_not_positive",
        "err.amount_too_large",
        "err.limit_per_transaction",
        "err.limit_daily",
        "err.limit_rolling_30_days",
        "err.insufficient",
    ),
    "pay.confirm": PIN_REASONS,
    "pay.confirm_order": PIN_REASONS,
    "air.phone": ("err.air_phone", "err.air_network"),
    "air.amount": (
        "err.amount_not_a_number",
        "err.amount_not_whole",
        "err.amount_not_positive",
        "err.amount_too_large",
        "err.air_amount",
        "err.limit_per_transaction",
        "err.limit_daily",
        "err.limit_rolling_30_days",
        "err.insufficient",
    ),
    "air.confirm": PIN_REASONS,
    "air.repeat": PIN_REASONS,
    "bill.account": ("err.bill_account",),
    "bill.amount": (
        "err.amount_not_a_number",
        "err.amount_not_whole",
        "err.amount_not_positive",
        "err.amount_too_large",
        "err.bill_amount",
        "err.limit_per_transaction",
        "err.limit_daily",
        "err.limit_rolling_30_days",
        "err.insufficient",
    ),
    "bill.confirm": PIN_REASONS,
    "bill.repeat": PIN_REASONS,
    "deposit.amount": (
        "err.amount_not_a_number",
        "err.amount_not_whole",
        "err.amount_not_positive",
        "err.amount_too_large",
        "err.mpesa_max",
    ),
    "withdraw.amount": (
        "err.amount_not_a_number",
        "err.amount_not_whole",
        "err.amount_not_positive",
        "err.amount_too_large",
        "err.mpesa_max",
        "err.withdraw_min",
        "err.limit_per_transaction",
        "err.limit_daily",
        "err.limit_rolling_30_days",
        "err.insufficient",
    ),
    "withdraw.confirm": PIN_REASONS,
    "balance.pin": PIN_REASONS,
    "sch.pin": PIN_REASONS,
    "sch.new_phone": ("err.phone_invalid", "err.send_to_self", "err.sch_not_registered"),
    "sch.new_amount": (
        "err.amount_not_a_number",
        "err.amount_not_whole",
        "err.amount_not_positive",
        "err.amount_too_large",
    ),
    "sch.new_day": ("err.sch_day_monthly", "err.sch_day_weekly"),
    "sch.new_pin": PIN_REASONS,
    "wg.confirm": PIN_REASONS,
    "wg.sched_day": ("err.sch_day_monthly", "err.sch_day_weekly"),
    "wg.sched_pin": PIN_REASONS,
    "wg.edit_gross": (
        "err.amount_not_a_number",
        "err.amount_not_whole",
        "err.amount_not_positive",
        "err.amount_too_large",
    ),
    "wg.edit_pin": PIN_REASONS,
    "wg.add_phone": ("err.phone_invalid", "err.wg_self"),
    "wg.add_name": ("err.wg_name",),
    "wg.det_name": ("err.wg_name",),
    "wg.det_pin": PIN_REASONS,
    "wg.add_gross": (
        "err.amount_not_a_number",
        "err.amount_not_whole",
        "err.amount_not_positive",
        "err.amount_too_large",
    ),
    "statement.pin": PIN_REASONS,
    "pin.old": PIN_REASONS,
    "pin.new": ("err.pin_format", "err.pin_weak"),
    "reg.pin": ("err.pin_format", "err.pin_weak"),
    "reg.name": ("err.name",),
}
UNREGISTERED = {"welcome", "about"}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("screen_id", sorted(FLOW.screens))
def test_every_screen_fits_a_handset_on_every_page(language, screen_id):
    registered = screen_id not in UNREGISTERED and not screen_id.startswith("reg.")
    state = State(
        phone=PHONE,
        language=language,
        user=WORST_USER if registered else None,
        stack=[FLOW.home_registered if registered else FLOW.home_unregistered, screen_id],
        data=dict(WORST_DATA),
    )
    ctx = Context(state, FakeUssdServices(), "s", "h", "*384*123*999#", 1440)
    screen = FLOW.screens[screen_id]
    # A notice and a reason together: more than any screen shows, so paging may help.
    crowded = ("err.pin_mismatch", ("err.wrong_pin", {"left": 2}))
    leads = [(None, None), *((None, (key, LONGEST)) for key in ANYWHERE)]
    leads += [(None, (key, LONGEST)) for key in REASONS.get(screen_id, ())]
    seen = []
    for page in range(6):
        for notice, error in [*leads, crowded]:
            state.page, state.notice = page, notice
            rendered = _render_current(FLOW, ctx, error)
            _fits(rendered.response)
            if isinstance(screen, Prompt) and (notice, error) != crowded:
                # Never paged: on a prompt, 98 is an answer (KES 98), not "more".
                assert text(language, "nav.more") not in rendered.response, rendered.response
            seen.append(rendered.response)
    assert isinstance(screen, Menu | Prompt | Info)
    if isinstance(screen, Prompt) and not screen.nav:  # its text offers its own way out
        assert "\n0. " in seen[0], seen[0]
    else:  # back/home offered off the home screen
        assert text(language, "nav.back_home") in seen[0]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("screen_id", ["wg.add_items", "wg.det_items"])
def test_the_deductions_switches_fit_with_every_choice(language, screen_id):
    # Every subset of the four items ("no" is longer than "yes" in Kiswahili), with the
    # longest name each journey shows and every reason the screen can show above it.
    for mask_ in range(2 ** len(ITEMS)):
        chosen = [item for n, item in enumerate(ITEMS) if mask_ >> n & 1]
        data = {
            **WORST_DATA,
            "wg_new": {**WORST_DATA["wg_new"], "items": chosen},
            "wg_det": {"items": chosen},
        }
        state = State(
            phone=PHONE, language=language, user=WORST_USER,
            stack=[FLOW.home_registered, screen_id], data=data,
        )  # fmt: skip
        ctx = Context(state, FakeUssdServices(), "s", "h", "*384*123*999#", 1440)
        for error in [None, *((key, LONGEST) for key in ANYWHERE)]:
            rendered = _render_current(FLOW, ctx, error)
            _fits(rendered.response)
            assert text(language, "nav.more") not in rendered.response, rendered.response


# Why a confirmed transfer was not sent after all (the balance or limits changed).
NOT_SENT_REASONS = (
    "err.sch_too_many",
    "err.wg_exists",
    "err.wg_too_many",
    "err.wg_self",
    "err.wg_name",
    "err.wg_daily",
    "err.wg_scheduled",
    "err.limit_per_transaction",
    "err.limit_daily",
    "err.limit_rolling_30_days",
    "err.insufficient",
    "err.recipient_gone",
    "err.till_unknown",
    "err.till_closed",
    "err.order_not_found",
    "err.order_paid",
    "err.order_expired",
    "err.order_canceled",
)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("key", sorted(k for k in TEXTS["en"] if k.startswith("end.")))
def test_every_closing_text_fits_a_handset(language, key):
    reasons = [text(language, reason, **LONGEST) for reason in NOT_SENT_REASONS]
    body = text(language, key, **LONGEST, reason=max(reasons, key=len))
    _fits(f"END {body}")


def test_both_languages_have_every_text():
    assert set(TEXTS["en"]) == set(TEXTS["sw"])
    placeholders = re.compile(r"{(\w+)}")
    for key, english in TEXTS["en"].items():
        assert set(placeholders.findall(english)) == set(placeholders.findall(TEXTS["sw"][key]))


_INPUTS = st.one_of(
    st.sampled_from(["", "0", "00", "98", "1", "2", "3", "4", "5", "6", "7", "99", "***"]),
    st.sampled_from(["4821", "5937", "1234", "abcd", "Jane Wanjiku", "x" * 5000]),
    # Send money: a registered and an unregistered recipient, amounts good and bad.
    st.sampled_from(["0711000002", "0722000333", "0712345678", "100", "1,500", "12.50", "-5"]),
    st.text(max_size=40),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(registered=st.booleans(), inputs=st.lists(_INPUTS, max_size=12))
def test_any_sequence_of_inputs_gets_a_valid_screen(registered, inputs):
    services = FakeUssdServices()
    if registered:
        services.add_user(PHONE, "Jane Wanjiku", "4821")
        services.add_user("+254711000002", "Amina Otieno", "5937")
        services.cash_in(PHONE, 1_000_00)
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
