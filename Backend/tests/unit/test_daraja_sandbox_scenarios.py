"""The Daraja sandbox's rules of the game, without HTTP: which scenario a request
gets, the identifiers it makes, and its command line."""

from __future__ import annotations

import base64
from datetime import datetime

import pytest

from app.sandboxes.daraja.__main__ import config_from, parse_args
from app.sandboxes.daraja.config import SandboxConfig
from app.sandboxes.daraja.identifiers import EAT, failed_transaction_id, receipt
from app.sandboxes.daraja.scenarios import (
    BadScenario,
    Rule,
    Scenario,
    default_scenario,
    parse_rule,
    resolve,
    result_for,
)

PHONE = "254712345678"


@pytest.mark.parametrize(
    ("amount", "scenario"),
    [
        (1, Scenario("success", "once")),
        (99, Scenario("success", "once")),
        (100, Scenario("success", "once")),
        (1000, Scenario("success", "once")),
        (101, Scenario("wrong_pin", "once")),
        (1001, Scenario("wrong_pin", "once")),
        (111, Scenario("insufficient_funds", "once")),
        (132, Scenario("cancelled", "once")),
        (1032, Scenario("cancelled", "once")),
        (137, Scenario("timeout", "once")),
        (198, Scenario("success", "duplicate")),
        (199, Scenario("success", "none")),
    ],
)
def test_an_amount_alone_chooses_the_scenario_of_an_stk_push(amount, scenario):
    assert resolve([], "stk", PHONE, amount) == scenario


def test_amounts_under_one_hundred_shillings_always_succeed():
    assert all(default_scenario("stk", amount) == Scenario() for amount in range(1, 100))


def test_a_b2c_payment_cannot_be_cancelled_so_an_amount_ending_in_32_pays():
    assert default_scenario("b2c", 132) == Scenario("success", "once")
    assert default_scenario("b2c", 137) == Scenario("timeout", "once")


def test_a_phone_rule_beats_an_amount_rule_and_the_newest_rule_wins():
    rules = [
        Rule("cancelled", phone=PHONE),
        Rule("insufficient_funds", amount=500),
        Rule("timeout", phone=PHONE, delivery="duplicate"),
    ]
    assert resolve(rules, "stk", PHONE, 500) == Scenario("timeout", "duplicate")
    assert resolve(rules, "stk", "254799999999", 500) == Scenario("insufficient_funds")
    assert resolve(rules, "stk", "254799999999", 132) == Scenario("cancelled")


def test_a_rule_for_one_api_leaves_the_other_alone():
    rules = [Rule("cancelled", phone=PHONE), Rule("wrong_pin", phone=PHONE, api="stk")]
    assert resolve(rules, "stk", PHONE, 50) == Scenario("wrong_pin")
    # Nothing to cancel in a B2C payment: both rules pass it by.
    assert resolve(rules, "b2c", PHONE, 50) == Scenario("success")


@pytest.mark.parametrize(
    ("api", "result", "code"),
    [
        ("stk", "success", 0),
        ("stk", "cancelled", 1032),
        ("stk", "timeout", 1037),
        ("stk", "wrong_pin", 2001),
        ("stk", "insufficient_funds", 1),
        ("b2c", "insufficient_funds", 1),
        ("b2c", "wrong_pin", 2001),
    ],
)
def test_each_result_has_daraja_s_result_code(api, result, code):
    assert result_for(api, result)[0] == code


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ({"result": "cancelled"}, "exactly one of phone and amount"),
        ({"phone": PHONE, "amount": 5, "result": "cancelled"}, "exactly one"),
        ({"phone": "0712345678", "result": "cancelled"}, "MSISDN"),
        ({"amount": 1.5, "result": "cancelled"}, "whole shillings"),
        ({"amount": 5, "result": "refunded"}, "result must be one of"),
        ({"amount": 5, "result": "success", "callback": "thrice"}, "callback must be"),
        ({"amount": 5, "result": "cancelled", "api": "b2c"}, "no customer prompt"),
        ({"amount": 5, "result": "success", "colour": "red"}, "unknown fields: colour"),
        ([], "JSON object"),
    ],
)
def test_a_rule_the_sandbox_cannot_follow_is_refused_with_the_reason(body, complaint):
    with pytest.raises(BadScenario, match=complaint):
        parse_rule(body)


def test_a_rule_takes_a_phone_with_or_without_its_plus():
    assert parse_rule({"phone": "+254712345678", "result": "timeout"}).phone == PHONE


def test_receipts_encode_the_east_africa_date_as_m_pesa_s_do():
    # 27 July 2017 is LGR (as in Daraja's samples); 10 December 2023 is RLA.
    assert receipt(datetime(2017, 7, 27, 10, tzinfo=EAT).timestamp()).startswith("LGR")
    assert receipt(datetime(2023, 12, 10, 13, tzinfo=EAT).timestamp()).startswith("RLA")
    assert failed_transaction_id(datetime(2018, 1, 28, tzinfo=EAT).timestamp()) == "MAS0000000"
    assert len(receipt(0)) == 10 and receipt(0).isalnum() and receipt(0).isupper()


def test_the_stk_password_is_base64_of_shortcode_passkey_and_timestamp():
    config = SandboxConfig(shortcode="174379", passkey="abc")
    password = config.stk_password("20240101120000")
    assert base64.b64decode(password) == b"174379abc20240101120000"


def test_the_command_line_serves_on_8020_and_takes_every_setting():
    args = parse_args(
        ["--data-dir", "sandbox-data", "--callback-delay-s", "0.5", "--shortcode", "123"]
    )
    assert args.port == 8020
    config = config_from(args)
    assert config.callback_delay_s == 0.5 and config.shortcode == "123"
    assert config.token_ttl_s == 3599


def test_a_negative_delay_is_refused():
    with pytest.raises(ValueError, match="negative"):
        SandboxConfig(callback_delay_s=-1)
