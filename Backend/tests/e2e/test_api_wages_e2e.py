"""Wages over the REST API, as the PWA uses them: an employer adds workers (one not on
PayTrace, who is invited), makes a month's pay run, approves it with the PIN; the real
worker pays each line and the payslip SMS reaches the worker's phone; the dues report
comes as CSV and the worker reads their payslip."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from app.domain.money import nairobi_day
from tests.support.wallets import check_ledger, fund, phone_of

WANJIRU, ACHIENG, BARAKA = phone_of(1), phone_of(2), phone_of(3)
PIN = "4821"


@pytest.fixture
def wanjiru(pwa, database) -> dict:
    tokens = pwa.register(WANJIRU, "Wanjiru Kamau", PIN)
    fund(database, WANJIRU, 10_000_000)
    return tokens


@pytest.fixture
def achieng(pwa) -> dict:
    return pwa.register(ACHIENG, "Achieng Odhiambo", "5937", language="sw")


def worker(phone: str, name: str) -> dict:
    return {
        "phone": phone,
        "display_name": name,
        "gross_pay": 1_611_375,
        "frequency": "monthly",
        "deductions": ["nssf", "shif", "ahl", "paye"],
    }


def test_an_employer_pays_a_month_and_the_worker_gets_the_payslip(pwa, database, wanjiru, achieng):
    auth = pwa.bearer(wanjiru)
    assert (
        pwa.http.post("/employer/workers", json=worker(ACHIENG, "Achieng"), headers=auth).json()[
            "error"
        ]
        == "not_an_employer"
    )
    assert pwa.http.post("/employer", headers=auth).json() == {"employer": True, "created": True}

    added = pwa.http.post("/employer/workers", json=worker("0711000002", "Achieng"), headers=auth)
    assert added.status_code == 201, added.text
    assert (added.json()["registered"], added.json()["invitation"]) == (True, None)
    invited = pwa.http.post("/employer/workers", json=worker(BARAKA, "Baraka"), headers=auth)
    assert invited.json()["invitation"] == "invited"
    again = pwa.http.post("/employer/workers", json=worker(BARAKA, "Baraka"), headers=auth)
    assert (again.status_code, again.json()["error"]) == (409, "worker_exists")

    key = {**auth, "Idempotency-Key": str(uuid.uuid4())}
    body = {"pay_date": "2025-11-28", "workers": [added.json()["id"]]}
    made = pwa.http.post("/employer/pay-runs", json=body, headers=key)
    assert made.status_code == 201, made.text
    run = made.json()
    assert (run["status"], [line["net"] for line in run["lines"]]) == ("draft", [1_446_208])

    wrong = pwa.http.post(
        f"/employer/pay-runs/{run['id']}/approve", json={"pin": "1357"}, headers=key
    )
    assert (wrong.status_code, wrong.json()["error"]) == (401, "wrong_pin")
    approved = pwa.http.post(
        f"/employer/pay-runs/{run['id']}/approve", json={"pin": PIN}, headers=key
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "funded"

    pwa.deliver_sms()  # the worker pays the line and sends the payslip

    shown = pwa.http.get(f"/employer/pay-runs/{run['id']}", headers=auth).json()
    assert shown["status"] == "completed"
    reference = shown["lines"][0]["reference"]
    assert (
        f"PayTrace mshahara Nov: Gross 16114 NSSF 967 SHIF 443 AHL 242 Net 14462. Ref {reference}"
        in pwa.inbox(ACHIENG)
    )
    assert any("Wanjiru wants to send you money" in text for text in pwa.inbox(BARAKA))

    report = pwa.http.get("/employer/reports/2025-11", headers=auth)
    assert report.headers["content-type"].startswith("text/csv")
    assert "NSSF,nssf,total,,1611375,96683,96683,193366" in report.text

    slips = pwa.http.get("/payslips", headers=pwa.bearer(achieng)).json()["payslips"]
    assert [(s["pay_date"], s["net"], s["reference"]) for s in slips] == [
        ("2025-11-28", 1_446_208, reference)
    ]
    mine = pwa.http.get("/wallet/transactions", headers=pwa.bearer(achieng)).json()
    assert [(t["type"], t["id"]) for t in mine["items"]] == [("wage_payment", reference)]
    employer_kinds = {
        t["type"] for t in pwa.http.get("/wallet/transactions", headers=auth).json()["items"]
    }
    assert "wage_hold" in employer_kinds
    assert check_ledger(database).sound


def test_an_employer_puts_a_worker_on_a_schedule_lists_pauses_and_stops_it(pwa, wanjiru, achieng):
    auth = pwa.bearer(wanjiru)
    pwa.http.post("/employer", headers=auth)
    added = pwa.http.post("/employer/workers", json=worker(ACHIENG, "Achieng"), headers=auth)
    path = f"/employer/workers/{added.json()['id']}/schedule"
    key = {**auth, "Idempotency-Key": str(uuid.uuid4())}
    body = {"day": 31, "start": "2099-01-01", "pin": PIN}
    assert pwa.http.post(path, json=body, headers=key).json()["error"] == "invalid_start"
    body["start"] = nairobi_day(datetime.now(UTC)).isoformat()
    wrong = pwa.http.post(path, json={**body, "pin": "1357"}, headers=key)
    assert (wrong.status_code, wrong.json()["error"]) == (401, "wrong_pin")
    made = pwa.http.post(path, json=body, headers=key)
    assert made.status_code == 201, made.text
    shown = made.json()
    assert (shown["kind"], shown["to"], shown["recipient_name"], shown["frequency"]) == (
        "wage", str(added.json()["id"]), "Achieng", "monthly")  # fmt: skip
    again = pwa.http.post(path, json=body, headers=key)
    assert (again.headers["Idempotent-Replayed"], again.json()["id"]) == ("true", shown["id"])
    listed = pwa.http.get("/employer/schedules", headers=auth).json()["schedules"]
    assert [s["id"] for s in listed] == [shown["id"]]
    assert [s["kind"] for s in pwa.http.get("/schedules", headers=auth).json()["schedules"]] == [
        "wage"
    ]
    for change, status in (("pause", "paused"), ("resume", "active"), ("stop", "stopped")):
        changed = pwa.http.post(f"/employer/schedules/{shown['id']}/{change}", headers=auth)
        assert changed.json()["status"] == status, changed.text
    ended = pwa.http.post(f"/employer/schedules/{shown['id']}/resume", headers=auth)
    assert (ended.status_code, ended.json()["error"]) == (409, "schedule_ended")


def test_an_employer_changes_a_workers_terms_and_bad_changes_are_refused(pwa, wanjiru, achieng):
    auth = pwa.bearer(wanjiru)
    pwa.http.post("/employer", headers=auth)
    added = pwa.http.post("/employer/workers", json=worker(ACHIENG, "Achieng"), headers=auth)
    path = f"/employer/workers/{added.json()['id']}"
    changed = pwa.http.patch(path, json={"gross_pay": 2_000_000, "frequency": "weekly"},
                             headers=auth)  # fmt: skip
    assert changed.status_code == 200, changed.text
    assert (changed.json()["gross_pay"], changed.json()["frequency"]) == (2_000_000, "weekly")
    assert changed.json()["display_name"] == "Achieng"
    for body, code in (
        ({}, "nothing_to_change"),
        ({"phone": BARAKA}, "validation_failed"),  # the phone never changes
        ({"display_name": "=cmd|"}, None),  # plain GSM-7: accepted, the report quotes it
        ({"deductions": ["lottery"]}, "validation_failed"),
    ):
        answer = pwa.http.patch(path, json=body, headers=auth)
        if code is None:
            assert answer.status_code == 200, answer.text
        else:
            assert (answer.status_code, answer.json()["error"]) == (422, code), answer.text
    missing = pwa.http.patch("/employer/workers/987654", json={"gross_pay": 1}, headers=auth)
    assert (missing.status_code, missing.json()["error"]) == (404, "worker_not_found")
