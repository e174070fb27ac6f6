"""An operator's resolution of a stuck Paybill bill over real HTTP, against the local
Daraja sandbox and its account statement: delivered only on a receipt M-Pesa's statement
has for this bill, failed only where M-Pesa provably has no payment; once, through the
same endings as the rail's own answer; every refusal a 4xx JSON body, audited."""

from __future__ import annotations

import secrets
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, time, timedelta

import httpx
import pytest

from app.db.unit_of_work import UnitOfWork
from app.domain.mpesa_reconciliation import EAT, eat_day
from app.domain.records.bills import BillPayment
from app.integrations.mpesa_statement import statement_from_settings
from app.services.bills import resolutions
from app.services.bills.payments import BillHeld, BillRequest, pay_bill
from app.services.bills.rail_evidence import ResolutionRefused
from app.services.pins import PinHasher, PinPolicy
from app.worker.outbox import build_worker
from tests.integration.test_console_tables import audited, console_as
from tests.support.console import csrf_of
from tests.support.mpesa import mpesa_rig, rows
from tests.support.promotions import airtime_rule, awards, fund_promotions
from tests.support.wallets import (
    check_ledger,
    fund,
    phone_of,
    register,
    registration_secrets,
    wallet_balance,
)

KES = 100
JANE = phone_of(1)
PIN = "4821"
START = 5_000 * KES


@pytest.fixture
def rig(live_settings, database, tmp_path):
    sandbox = {"callback_delay_s": 0.3}
    with mpesa_rig(live_settings, database, tmp_path, sandbox, daraja_timeout_s=0.3) as rig:
        box, pin_hash = registration_secrets(rig.settings, PIN)
        rig.user_id = register(rig.database, box, pin_hash, phone=JANE, name="Jane Wanjiku")
        fund(rig.database, JANE, START)
        assert rig.settings.admin_token is not None
        rig.admin = httpx.Client(
            base_url=rig.paytrace.url + "/api/v1/admin",
            headers={"Authorization": f"Bearer {rig.settings.admin_token.get_secret_value()}"},
            timeout=15,
        )
        yield rig
        rig.admin.close()


def meter() -> str:
    return "".join(secrets.choice("123456789") for _ in range(11))


def pay(rig, amount: int, account: str | None = None) -> BillHeld:
    return pay_bill(
        UnitOfWork(rig.database),
        PinHasher.from_settings(rig.settings),
        PinPolicy.from_settings(rig.settings),
        BillRequest(rig.user_id, "kplc_prepaid", account or meter(), amount, uuid.uuid4().hex),
        pin=PIN,
        open_rails=rig.settings.bill_rails,
    )


def payment(rig, reference: str) -> BillPayment:
    with UnitOfWork(rig.database) as uow:
        found = uow.bill_payments.get(reference)
    assert found is not None
    return found


def kinds(rig) -> list[str]:
    return [k for (k,) in rows(rig.database, "SELECT kind FROM journal_transactions ORDER BY id")
            if k.startswith("bill") or k == "cashback"]  # fmt: skip


def paid_but_answer_lost(rig, amount: int) -> BillPayment:
    """M-Pesa pays the bill; its answer to PayTrace is lost: unknown, no rail id."""
    assert rig.sandbox.http.post(
        "/sandbox/faults", json={"api": "b2b", "fault": "timeout", "after_send": True,
                                 "delay_s": 0.6},
    ).status_code == 201  # fmt: skip
    p = pay(rig, amount).payment
    rig.worker.run_once()
    stuck = payment(rig, p.reference)
    assert (stuck.status, stuck.rail_request_id) == ("unknown", None)
    return stuck


def never_reached(rig, amount: int) -> BillPayment:
    """The send's outbox row gives up: Daraja was never reached."""
    cut_off = rig.settings.model_copy(
        update={"daraja_base_url": "http://127.0.0.1:9", "outbox_max_attempts": 1}
    )
    p = pay(rig, amount).payment
    assert build_worker(cut_off, rig.database).run_once() >= 1
    [(status, error)] = rows(
        rig.database,
        "SELECT status, last_error FROM outbox WHERE kind = 'daraja_b2b' ORDER BY id DESC LIMIT 1",
    )
    assert status == "failed" and error.startswith("gave up after"), error
    stuck = payment(rig, p.reference)
    assert stuck.status == "unknown"
    return stuck


def receipt_of(rig, p: BillPayment) -> str:
    statement = statement_from_settings(rig.settings)
    assert statement is not None

    def found():
        today = statement.entries(eat_day(datetime.now(UTC))) or []
        return next((e.receipt for e in today if e.reference == p.account), None)

    return rig.until(found)


def resolve(rig, reference: str, **body) -> httpx.Response:
    return rig.admin.post(f"/bills/{reference}/resolve", json=body)


def test_a_paid_bill_whose_answer_was_lost_is_delivered_once_on_its_statement_receipt(rig):
    airtime_rule(rig.database, rate_bp=100, cap=100 * KES, biller_code="kplc_prepaid")
    fund_promotions(rig.database, 100 * KES)
    p = paid_but_answer_lost(rig, 800 * KES)
    receipt = receipt_of(rig, p)
    held = wallet_balance(rig.database, rig.user_id)

    # A receipt M-Pesa's statement does not have, or a release while it shows the
    # payment: refused, nothing moves.
    for body, status, code in (
        ({"outcome": "delivered", "receipt": "ZZZ9ZZZ9ZZ", "reason": "KPLC says paid"}, 409,
         "receipt_not_on_statement"),
        ({"outcome": "failed", "reason": "KPLC says not paid"}, 409, "mpesa_paid"),
        ({"outcome": "delivered", "reason": "no receipt"}, 422, "invalid_receipt"),
        ({"outcome": "maybe", "reason": "x"}, 422, "validation_failed"),
    ):  # fmt: skip
        answer = resolve(rig, p.reference, **body)
        assert (answer.status_code, answer.json()["error"]) == (status, code), answer.text
    assert resolve(rig, "ZZZZZZZZZZ", outcome="failed", reason="x").status_code == 404
    assert kinds(rig) == ["bill_hold"] and wallet_balance(rig.database, rig.user_id) == held

    body = {"outcome": "delivered", "receipt": receipt, "reason": "on M-Pesa's statement"}
    first = resolve(rig, p.reference, **body)
    assert first.status_code == 201, first.text
    out = first.json()
    assert (out["outcome"], out["grounds"], out["receipt"]) == (
        "delivered",
        "mpesa_statement",
        receipt,
    )
    again = resolve(rig, p.reference, **body)
    assert again.status_code == 200 and again.json() == {**out, "replayed": True}
    other = resolve(rig, p.reference, outcome="failed", reason="changed my mind")
    assert (other.status_code, other.json()["error"]) == (409, "already_resolved")

    done = payment(rig, p.reference)
    assert (done.status, done.receipt, done.outcome_id) == (
        "delivered",
        receipt,
        out["transaction_id"],
    )
    # Exactly a normal delivery: bill_payment, its cashback, the user's SMS, once.
    assert kinds(rig) == ["bill_hold", "bill_payment", "cashback"]
    assert awards(rig.database, rig.user_id) == [8 * KES]
    assert wallet_balance(rig.database, rig.user_id) == held + 8 * KES
    rig.until(lambda: len(rig.sms(JANE, about=f"PayTrace {p.reference} confirmed")) == 1)
    # The same receipt never ends a second bill.
    second = never_reached(rig, 800 * KES)
    taken = resolve(rig, second.reference, outcome="delivered", receipt=receipt, reason="same")
    assert taken.status_code == 409 and taken.json()["error"] in (
        "receipt_used",
        "receipt_mismatch",
    )
    audit = rows(
        rig.database,
        "SELECT target_id, outcome, detail->>'outcome' FROM admin_audit"
        " WHERE action = 'resolve_bill' AND target_id = %(r)s ORDER BY id",
        r=p.reference,
    )
    assert [o for _, o, _ in audit] == ["refused"] * 4 + ["done", "done", "refused"]
    assert check_ledger(rig.database).sound


def test_a_bill_whose_send_never_reached_m_pesa_is_released_once_even_asked_at_once(rig):
    p = never_reached(rig, 300 * KES)
    before = wallet_balance(rig.database, rig.user_id)
    body = {"outcome": "failed", "reason": "never reached M-Pesa"}
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: resolve(rig, p.reference, **body), range(4)))
    codes = sorted(a.status_code for a in answers)
    assert codes == [200, 200, 200, 201], [a.text for a in answers]
    assert {a.json()["grounds"] for a in answers} == {"outbox_gave_up"}
    assert kinds(rig) == ["bill_hold", "bill_release"]
    assert wallet_balance(rig.database, rig.user_id) == before + p.total
    assert payment(rig, p.reference).status == "failed"
    rig.until(lambda: len(rig.sms(JANE, about="did not go through")) == 1)
    assert check_ledger(rig.database).sound


def test_a_bill_still_being_sent_is_not_stuck(rig):
    p = pay(rig, 200 * KES).payment  # its outbox row still pending
    answer = resolve(rig, p.reference, outcome="failed", reason="impatient")
    assert (answer.status_code, answer.json()["error"]) == (409, "not_stuck")
    assert kinds(rig) == ["bill_hold"]


def test_the_console_resolves_a_stuck_bill_behind_a_confirmation_audited(rig):
    p = never_reached(rig, 250 * KES)
    viewer = console_as(rig.paytrace, rig.settings, rig.database, "viewer")
    operator = console_as(rig.paytrace, rig.settings, rig.database, "operator")
    page = f"/console/bills/{p.reference}/resolve"
    listed = viewer.get("/console/bills")
    assert listed.status_code == 200 and p.reference in listed.text and page not in listed.text
    assert f'href="{page}"' in operator.get("/console/bills").text
    assert viewer.get(page).status_code == 403
    assert operator.get("/console/bills/ZZZZZZZZZZ/resolve").status_code == 404
    confirm = operator.get(page)
    assert confirm.status_code == 200 and "Confirm resolution" in confirm.text
    good = {"csrf": csrf_of(confirm.text), "confirm": "yes", "outcome": "failed",
            "reason": "never reached M-Pesa"}  # fmt: skip
    for form, status, code in (
        ({**good, "confirm": "no"}, 422, "not_confirmed"),
        ({**good, "reason": ""}, 422, "invalid_reason"),
        ({**good, "outcome": "delivered"}, 422, "invalid_receipt"),
        ({**good, "outcome": "delivered", "receipt": "ZZZ9ZZZ9ZZ"}, 409,
         "receipt_not_on_statement"),
        ({**good, "csrf": "forged"}, 403, ""),
    ):  # fmt: skip
        answer = operator.post(page, data=form)
        assert answer.status_code == status and code in answer.text, (form, answer.text)
    assert kinds(rig) == ["bill_hold"]
    done = operator.post(page, data=good)
    assert done.status_code == 200 and "bill_release" in done.text, done.text
    again = operator.post(page, data=good)
    assert again.status_code == 200 and str(again.url) == str(done.url)
    assert kinds(rig) == ["bill_hold", "bill_release"]
    assert p.reference not in operator.get("/console/bills").text  # no longer stuck
    audit = audited(rig.database, "console_resolve_bill")
    assert [row[4] for row in audit] == ["refused"] * 5 + ["done", "done"]
    _, target_kind, target, reason, _, detail = audit[5]
    assert (target_kind, target, reason) == ("bill", p.reference, "never reached M-Pesa")
    assert detail["outcome"] == "failed"
    viewer.close()
    operator.close()


def test_an_unclear_send_m_pesa_never_paid_is_released_only_once_its_statement_shows_none(rig):
    # Daraja answers 500 without taking the request: unclear, so unknown; M-Pesa paid nothing.
    assert rig.sandbox.http.post(
        "/sandbox/faults", json={"api": "b2b", "fault": "http_500"}
    ).status_code == 201  # fmt: skip
    p = pay(rig, 150 * KES).payment
    rig.worker.run_once()
    assert payment(rig, p.reference).status == "unknown"
    body = {"outcome": "failed", "reason": "not on M-Pesa's statement"}
    early = resolve(rig, p.reference, **body)  # M-Pesa may still have it in its queue
    assert (early.status_code, early.json()["error"]) == (409, "too_early")
    assert kinds(rig) == ["bill_hold"]

    # Past the grace but on the same East Africa Time day: that day's statement is not
    # over, so it proves nothing yet.
    same_day = resolutions.resolve_bill
    hold_day_end = datetime.combine(
        eat_day(datetime.now(UTC) + resolutions.RELEASE_GRACE), time.max, tzinfo=EAT
    )
    with pytest.raises(ResolutionRefused) as waiting:
        same_day(
            UnitOfWork(rig.database),
            resolutions.Rails.from_settings(rig.settings),
            bill_reference=p.reference,
            **body,
            receipt=None,
            now=hold_day_end - timedelta(seconds=1),
        )
    assert waiting.value.code == "too_early" and kinds(rig) == ["bill_hold"]

    later = hold_day_end + timedelta(seconds=1)
    done = resolutions.resolve_bill(
        UnitOfWork(rig.database),
        resolutions.Rails.from_settings(rig.settings),
        bill_reference=p.reference,
        **body,
        receipt=None,
        now=later,
    )
    assert (done.outcome, done.grounds, done.replayed) == ("failed", "statement_clear", False)
    assert kinds(rig) == ["bill_hold", "bill_release"]
    assert payment(rig, p.reference).status == "failed" and check_ledger(rig.database).sound
