"""The payslip SMS: the issue's example, and the longest payslip still one GSM-7 part."""

from __future__ import annotations

from datetime import date

import pytest

from app.domain.gsm7 import is_gsm7
from app.domain.records.wages import PayRunLine
from app.domain.wages import ITEMS, Payslip, compute_payslip, rules_in_force
from app.services.sms_texts import render_sms
from app.services.wages.line_payments import payslip_text_params
from tests.support.seeds import paye_bands, statutory_rules

NOV = date(2025, 11, 28)


def line_of(slip: Payslip) -> PayRunLine:
    return PayRunLine(
        id=1,
        pay_run_id=1,
        worker_id=1,
        phone="+254711000002",
        display_name="Achieng",
        gross=slip.gross,
        frequency=slip.frequency,
        deductions=slip.lines,
        employee_deductions=slip.employee_deductions,
        employer_contributions=slip.employer_contributions,
        net=slip.net,
        status="paid",
        transaction_id=1,
        failure=None,
        ended_at=None,
        reference="PT3F9ABCDE",
    )


def slip_of(gross: int, items=ITEMS) -> Payslip:
    rules = rules_in_force(list(statutory_rules()), list(paye_bands()), NOV)
    return compute_payslip(gross, "monthly", rules, frozenset(items))


def test_the_minimum_wage_payslip_reads_as_the_issue_shows():
    params = payslip_text_params(line_of(slip_of(1_611_375)), NOV, "PT3F9ABCDE")

    assert render_sms("payslip", "sw", **params) == (
        "PayTrace mshahara Nov: Gross 16114 NSSF 967 SHIF 443 AHL 242 Net 14462. Ref PT3F9ABCDE"
    )


def test_paye_shows_when_there_is_some_and_items_not_paid_do_not_show():
    assert "PAYE 5846 Net 39029" in render_sms(
        "payslip", "en", **payslip_text_params(line_of(slip_of(5_000_000)), NOV, "R")
    )
    assert (
        render_sms(
            "payslip", "en", **payslip_text_params(line_of(slip_of(500_000, ["shif"])), NOV, "R")
        )
        == "PayTrace pay Nov: Gross 5000 SHIF 300 Net 4700. Ref R"
    )


@pytest.mark.parametrize("language", ["en", "sw"])
def test_the_longest_payslip_is_one_gsm7_part(language):
    text = render_sms(
        "payslip",
        language,
        **payslip_text_params(line_of(slip_of(1_000_000_000)), date(2025, 9, 30), "ABCDEFGHJK"),
    )
    assert is_gsm7(text) and len(text) <= 160, text
