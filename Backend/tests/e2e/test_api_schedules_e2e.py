"""Scheduled payments over the REST API, as the PWA uses them: created with the PIN and
an Idempotency-Key, listed, shown with their occurrences, paused, resumed and stopped;
the worker's job pays them at their time."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta

import pytest

from app.domain.money import nairobi_day
from app.worker.schedules import ScheduledPaymentsJob
from tests.support.wallets import check_ledger, fund, phone_of

JANE, AMINA = phone_of(1), phone_of(2)
JANE_PIN = "4821"
KES = 100


@pytest.fixture
def jane(pwa, database) -> dict:
    tokens = pwa.register(JANE, "Jane Wanjiku", JANE_PIN)
    fund(database, JANE, 10_000 * KES)
    return tokens


@pytest.fixture
def amina(pwa) -> dict:
    return pwa.register(AMINA, "Amina Otieno", "5937", language="sw")


def rent(**changes) -> dict:
    tomorrow = nairobi_day(datetime.now(UTC)) + timedelta(days=1)
    body = {
        "to": "0711000002",
        "amount": 1_500 * KES,
        "frequency": "monthly",
        "day": 31,
        "time": "09:00",
        "start": tomorrow.isoformat(),
        "count": 12,
        "note": "rent",
        "pin": JANE_PIN,
    }
    return {**body, **changes}


def create(pwa, tokens, body, key=None):
    headers = {**pwa.bearer(tokens), "Idempotency-Key": key or str(uuid.uuid4())}
    return pwa.http.post("/schedules", json=body, headers=headers)


def test_a_monthly_rent_is_scheduled_once_per_key_and_shown(pwa, jane, amina):
    key = str(uuid.uuid4())
    made = create(pwa, jane, rent(), key)
    assert made.status_code == 201, made.text
    schedule = made.json()
    assert (schedule["to"], schedule["recipient_name"], schedule["status"]) == (
        AMINA,
        "Amina Otieno",
        "active",
    )
    assert (schedule["day"], schedule["time"], schedule["count"]) == (31, "09:00", 12)
    again = create(pwa, jane, rent(), key)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == schedule["id"]
    other = create(pwa, jane, rent(amount=1_600 * KES), key)
    assert (other.status_code, other.json()["error"]) == (409, "idempotency_key_reused")

    listed = pwa.http.get("/schedules", headers=pwa.bearer(jane)).json()["schedules"]
    assert [s["id"] for s in listed] == [schedule["id"]]
    shown = pwa.http.get(f"/schedules/{schedule['id']}", headers=pwa.bearer(jane)).json()
    assert shown["occurrences"] == []
    # Amina cannot see or change Jane's schedule.
    assert (
        pwa.http.get(f"/schedules/{schedule['id']}", headers=pwa.bearer(amina)).status_code == 404
    )
    stranger = pwa.http.post(f"/schedules/{schedule['id']}/stop", headers=pwa.bearer(amina))
    assert (stranger.status_code, stranger.json()["error"]) == (404, "schedule_not_found")


def test_a_wrong_pin_or_schedule_is_refused_and_nothing_is_made(pwa, jane, amina):
    wrong = create(pwa, jane, rent(pin="0000"))
    assert (wrong.status_code, wrong.json()["error"]) == (401, "wrong_pin")
    bad = create(pwa, jane, rent(start="2020-01-01"))
    assert (bad.status_code, bad.json()["error"]) == (422, "invalid_start")
    far = create(pwa, jane, rent(start="9998-01-31"))  # once a 500
    assert (far.status_code, far.json()["error"]) == (422, "invalid_start")
    both = create(pwa, jane, rent(until="2030-01-01"))
    assert (both.status_code, both.json()["error"]) == (422, "invalid_schedule")
    to_self = create(pwa, jane, rent(to=JANE))
    assert (to_self.status_code, to_self.json()["error"]) == (422, "send_to_self")
    assert pwa.http.get("/schedules", headers=pwa.bearer(jane)).json()["schedules"] == []


def test_pause_resume_and_stop(pwa, jane, amina):
    made = create(pwa, jane, rent()).json()
    path = f"/schedules/{made['id']}"
    paused = pwa.http.post(f"{path}/pause", headers=pwa.bearer(jane)).json()
    assert paused["status"] == "paused"
    resumed = pwa.http.post(f"{path}/resume", headers=pwa.bearer(jane)).json()
    assert resumed["status"] == "active" and resumed["next_due_at"] == made["next_due_at"]
    assert pwa.http.post(f"{path}/stop", headers=pwa.bearer(jane)).json()["status"] == "stopped"
    ended = pwa.http.post(f"{path}/resume", headers=pwa.bearer(jane))
    assert (ended.status_code, ended.json()["error"]) == (409, "schedule_ended")
    live = pwa.http.get("/schedules?live=true", headers=pwa.bearer(jane)).json()
    assert live["schedules"] == []


def test_the_worker_pays_an_occurrence_and_it_is_shown_with_its_reference(
    pwa, jane, amina, database
):
    made = create(pwa, jane, rent(frequency="weekly", day=1, count=2)).json()
    due = datetime.fromisoformat(made["next_due_at"])
    ScheduledPaymentsJob(database, shortcode="*384*123#", clock=lambda: due).run_once()
    shown = pwa.http.get(f"/schedules/{made['id']}", headers=pwa.bearer(jane)).json()
    (occurrence,) = shown["occurrences"]
    assert (occurrence["status"], occurrence["attempts"]) == ("paid", 1)
    assert len(occurrence["reference"]) == 10 and occurrence["next_attempt_at"] is None
    assert datetime.fromisoformat(occurrence["due_at"]).astimezone(UTC).time() == time(6, 0)
    assert pwa.http.get("/wallet", headers=pwa.bearer(amina)).json()["balance"] == 1_500 * KES
    assert check_ledger(database).sound


def test_a_monthly_kplc_bill_is_scheduled_and_a_payee_its_kind_lacks_is_refused(pwa, jane):
    bill = rent(kind="bill", biller="kplc_prepaid", account="1234 5678 901", amount=500 * KES)
    del bill["to"]
    made = create(pwa, jane, bill)
    assert made.status_code == 201, made.text
    schedule = made.json()
    assert (schedule["kind"], schedule["to"], schedule["recipient_name"]) == (
        "bill",
        "kplc_prepaid:12345678901",
        "KPLC prepaid 12345678901",
    )
    listed = pwa.http.get("/schedules", headers=pwa.bearer(jane)).json()["schedules"]
    assert [s["kind"] for s in listed] == ["bill"]

    airtime = {**bill, "kind": "airtime", "biller": "airtime_safaricom", "account": "0711000002"}
    assert create(pwa, jane, {**airtime, "amount": 100 * KES}).status_code == 201
    for wrong, status, code in [
        ({**bill, "to": "0711000002"}, 422, "invalid_payee"),
        ({**bill, "kind": "airtime"}, 422, "invalid_payee"),
        ({**bill, "account": "12"}, 422, "invalid_account"),
        ({**bill, "biller": "nobody"}, 404, "biller_not_found"),
        ({k: v for k, v in bill.items() if k != "biller"}, 422, "invalid_payee"),
    ]:
        answer = create(pwa, jane, wrong)
        assert (answer.status_code, answer.json()["error"]) == (status, code), answer.text
