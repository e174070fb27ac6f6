"""The console's promotions page over real HTTP: what the promotions account holds, the
cashback it paid and got back and the referral bonuses it paid (this month and by day),
each checked against sums this test makes from the promotions account's ledger legs;
admins add and end cashback rules, fund the account from the float (a form posted twice
funds once) and open a referral programme, through the command line's services, each
audited; refusals are the form again or a 403, never a 500. And the dashboard's
reconciliation chart's data by day."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from app.db.unit_of_work import UnitOfWork
from app.domain.money import NAIROBI, format_kes
from app.domain.mpesa_reconciliation import Difference, StatementEntry
from app.domain.promotions import PROMOTIONS
from app.services.bills.reversals import reverse_bill
from app.services.promotions import budget
from tests.integration.test_console_reconciliation import mpesa_report, stellar_report
from tests.integration.test_console_tables import audited, console_as, query
from tests.integration.test_referrals import deposit, invite, program
from tests.support.console import csrf_of
from tests.support.promotions import (
    airtime_rule,
    deliver,
    fund_promotions,
    hold_bill,
    promotions_balance,
)
from tests.support.wallets import fund, phone_of, register, registration_secrets

KES = 100


def today() -> date:
    return datetime.now(UTC).astimezone(NAIROBI).date()


@pytest.fixture
def admin(live_server, live_settings, clean_database) -> Iterator[httpx.Client]:
    client = console_as(live_server, live_settings, clean_database, "admin")
    yield client
    client.close()


@pytest.fixture
def viewer(live_server, live_settings, clean_database) -> Iterator[httpx.Client]:
    client = console_as(live_server, live_settings, clean_database, "viewer")
    yield client
    client.close()


def ledger_sums(database) -> dict[date, dict[str, int]]:
    """The promotions account's legs as the test reads them: by Nairobi day, by what each
    movement was, and the account's balance under the key None."""
    legs = query(
        database,
        "SELECT t.kind, r.kind, l.amount, t.created_at FROM journal_legs l"
        " JOIN journal_transactions t ON t.id = l.transaction_id"
        " LEFT JOIN journal_transactions r ON r.id = t.reverses_id"
        " JOIN ledger_accounts a ON a.id = l.account_id WHERE a.code = %(c)s",
        {"c": PROMOTIONS},
    )
    days: dict = {None: {"balance": 0}}
    for kind, reversed_kind, amount, at in legs:
        days[None]["balance"] += amount
        day = days.setdefault(
            at.astimezone(NAIROBI).date(), {"paid": 0, "reversed": 0, "referral": 0}
        )
        if kind == "cashback":
            day["paid"] -= amount
        elif kind == "bill_reversal" or (kind == "reversal" and reversed_kind == "cashback"):
            day["reversed"] += amount
        elif kind == "referral_bonus":
            day["referral"] -= amount
    return days


def month_of_sums(days: dict) -> dict[str, int]:
    month = today().replace(day=1)
    return {
        name: sum(v[name] for d, v in days.items() if d is not None and d >= month)
        for name in ("paid", "reversed", "referral")
    }


def day_row(day: date, sums: dict[str, int]) -> str:
    return (
        f'<tr data-day="{day.isoformat()}"><td>{day.isoformat()}</td>'
        f'<td class="num">{format_kes(sums["paid"])}</td>'
        f'<td class="num">{format_kes(sums["reversed"])}</td>'
        f'<td class="num">{format_kes(sums["referral"])}</td></tr>'
    )


def figure(html: str, name: str) -> str:
    found = re.search(rf'data-figure="{name}">([^<]*)<', html)
    assert found, f"no {name} on the page"
    return found.group(1)


def test_a_viewer_reads_the_promotions_figures_the_ledger_adds_up_to(
    viewer, live_settings, clean_database
):
    db = clean_database
    box, pin_hash = registration_secrets(live_settings)
    jane = register(db, box, pin_hash, phone=phone_of(1), name="Jane Wanjiku")
    fund(db, phone_of(1), 2_000 * KES)
    airtime_rule(db, rate_bp=100, cap=100 * KES)
    fund_promotions(db, 100 * KES)
    bills = [
        hold_bill(live_settings, db, jane, phone_of(1), amount) for amount in (300 * KES, 500 * KES)
    ]
    deliver(db, bills[0])
    yesterday = datetime.now(UTC) - timedelta(days=1)
    deliver(db, bills[1], now=yesterday)  # a day earlier: its own row
    reverse_bill(UnitOfWork(db), bill_reference=bills[0], refund_reference="SAF-1", reason="x")
    program(db, 1_000)
    invite(db, jane, phone_of(2))
    newcomer = register(db, box, pin_hash, phone=phone_of(2))
    deposit(db, newcomer)  # the first deposit pays jane the referral bonus

    days = ledger_sums(db)
    before = yesterday.astimezone(NAIROBI).date()
    assert days[today()] == {"paid": 3 * KES, "reversed": 3 * KES, "referral": 50 * KES}
    assert days[before] == {"paid": 5 * KES, "reversed": 0, "referral": 0}
    balance = days[None]["balance"]
    assert balance == (100 - 8 + 3 - 50) * KES == promotions_balance(db)
    month = month_of_sums(days)  # yesterday may be last month's
    page = viewer.get("/console/promotions")
    assert page.status_code == 200
    text = page.text
    assert figure(text, "balance") == f"KES {format_kes(balance)}"
    assert figure(text, "cashback-paid") == f"KES {format_kes(month['paid'])}"
    assert figure(text, "cashback-reversed") == f"KES {format_kes(month['reversed'])}"
    assert figure(text, "referral-paid") == f"KES {format_kes(month['referral'])}"
    assert figure(text, "referral-left") == f"KES {format_kes(950 * KES)}"
    rows = re.findall(r'<tr data-day="([0-9-]+)">', text)
    first = today() - timedelta(days=29)
    assert rows == [(today() - timedelta(days=n)).isoformat() for n in range(30)]  # zero-filled
    assert day_row(today(), days[today()]) in text
    assert day_row(before, days[before]) in text
    assert (
        f'<tr data-day="{first.isoformat()}"><td>{first.isoformat()}</td><td class="num">0</td>'
        in text
    )
    rule = text.split('<tr data-rule="')[1].split("</tr>")[0]
    assert "airtime_safaricom" in rule and "100 bp" in rule and 'data-field="state">valid' in rule
    assert "/console/promotions/fund" not in text and "/end" not in text  # a viewer only reads


def test_an_admin_adds_a_rule_the_command_lines_way_and_bad_ones_are_told_on_the_form(
    admin, viewer, clean_database
):
    page = admin.get("/console/promotions")
    csrf = csrf_of(page.text)
    good = {
        "csrf": csrf,
        "name": "KPLC 1%",
        "scope": "biller",
        "biller": "airtime_safaricom",
        "category": "electricity",
        "cap_kes": "200",
        "tiers": "100:999:50\n1000:35000:100",
        "valid_from": today().isoformat(),
        "valid_until": "",
    }
    for change, status, code in (
        ({"tiers": "100:2000:50\n1000:35000:100"}, 422, "tiers that do not overlap"),
        ({"tiers": "100-999 50"}, 422, "MIN_KES:MAX_KES:BASIS_POINTS"),
        ({"tiers": "100:999:20000"}, 422, "a rate of 1 to 10,000 bp"),
        ({"cap_kes": "lots"}, 422, "cap kes: whole shillings"),
        ({"valid_from": "2026-13-01"}, 422, "a date, YYYY-MM-DD"),
        ({"valid_until": "2020-01-01"}, 422, "dates in order"),
        ({"name": "K"}, 422, "a name of 2 to 60 printable characters"),
        ({"name": "KPLC\x00 1%"}, 422, "a name of 2 to 60 printable characters"),
        ({"biller": "airtime\x00safaricom"}, 422, "one biller or one category"),
        ({"scope": "category", "category": "water\x00"}, 422, "one biller or one category"),
        ({"scope": "everything"}, 422, "one biller or one category"),
        ({"biller": "no_such_biller"}, 404, "no such biller"),
    ):
        answer = admin.post("/console/promotions/rules", data={**good, **change})
        assert answer.status_code == status and code in answer.text, (change, answer.text)
        typed = html.escape({**good, **change}["name"])
        assert 'data-error="' in answer.text and f'value="{typed}"' in answer.text  # kept
    assert query(clean_database, "SELECT count(*) FROM cashback_rules") == [(0,)]
    assert viewer.post("/console/promotions/rules", data={**good, "csrf": csrf_of(
        viewer.get("/console/promotions").text)}).status_code == 403  # fmt: skip
    assert admin.post("/console/promotions/rules", data={**good, "csrf": ""}).status_code == 403

    done = admin.post("/console/promotions/rules", data=good)
    assert done.status_code == 200 and "Cashback rule added." in done.text
    shared = admin.post(
        "/console/promotions/rules",
        data={**good, "name": "Water", "scope": "category", "category": "water"},
    )
    assert shared.status_code == 200 and "every water biller" in shared.text
    [(rule_id, biller, cap, valid_until)] = query(
        clean_database,
        "SELECT r.id, b.code, r.monthly_cap, r.valid_until FROM cashback_rules r"
        " JOIN billers b ON b.id = r.biller_id",
    )
    assert (biller, cap, valid_until) == ("airtime_safaricom", 200 * KES, None)
    assert query(
        clean_database,
        "SELECT min_amount, max_amount, rate_bp FROM cashback_tiers WHERE rule_id = %(r)s"
        " ORDER BY min_amount",
        {"r": rule_id},
    ) == [(100 * KES, 999 * KES, 50), (1_000 * KES, 35_000 * KES, 100)]
    rows = audited(clean_database, "console_add_cashback_rule")
    assert [r[4] for r in rows] == ["refused"] * 14 + ["done", "done"]
    assert rows[-2][5]["committed_with_action"] is True and rows[-2][2] == "airtime_safaricom"
    assert rows[0][5]["error"] == "invalid_rule" and rows[11][5]["error"] == "biller_not_found"


def test_an_admin_ends_a_rule_never_into_the_past(admin, clean_database):
    rule_id = airtime_rule(clean_database, rate_bp=100, cap=100 * KES)
    csrf = csrf_of(admin.get("/console/promotions").text)
    end = f"/console/promotions/rules/{rule_id}/end"
    past = admin.post(end, data={"csrf": csrf, "last_day": "2021-01-01"})
    assert past.status_code == 422 and "today or later" in past.text
    assert (
        admin.post(f"/console/promotions/rules/{rule_id + 9}/end", data={"csrf": csrf}).status_code
        == 404
    )
    later = (today() + timedelta(days=10)).isoformat()
    assert "Cashback rule ended." in admin.post(end, data={"csrf": csrf, "last_day": later}).text
    done = admin.post(end, data={"csrf": csrf})  # today: shortens it again
    assert "Cashback rule ended." in done.text
    assert "nothing changed" in admin.post(end, data={"csrf": csrf, "last_day": later}).text
    assert query(
        clean_database, "SELECT valid_until FROM cashback_rules WHERE id = %(r)s", {"r": rule_id}
    ) == [(today(),)]
    rows = audited(clean_database, "console_end_cashback_rule")
    assert [r[4] for r in rows] == ["refused", "refused", "done", "done", "done"]
    assert rows[2][5]["committed_with_action"] is True and rows[4][5]["changed"] is False


def test_funding_from_the_float_is_keyed_by_the_money_s_reference_as_on_the_command_line(
    admin, viewer, clean_database
):
    csrf = csrf_of(admin.get("/console/promotions").text)
    form = {"csrf": csrf, "reference": "BANK-0301", "amount_kes": "5,000", "reason": "March"}
    assert admin.post("/console/promotions/fund", data={**form, "reason": ""}).status_code == 422
    assert (
        admin.post("/console/promotions/fund", data={**form, "amount_kes": "1.5"}).status_code
        == 422
    )
    for bad in ("", "  ", "BANK\x000301", "B" * 65):
        answer = admin.post("/console/promotions/fund", data={**form, "reference": bad})
        assert answer.status_code == 422 and "invalid_reference" in answer.text, bad
    assert (
        admin.post("/console/promotions/fund", data={**form, "csrf": "forged"}).status_code == 403
    )
    theirs = csrf_of(viewer.get("/console/promotions").text)
    assert viewer.post("/console/promotions/fund", data={**form, "csrf": theirs}).status_code == 403
    assert promotions_balance(clean_database) == 0

    first = admin.post("/console/promotions/fund", data=form)
    again = admin.post("/console/promotions/fund", data=form)
    assert first.status_code == again.status_code == 200
    assert "funded from the float" in again.text
    assert figure(again.text, "balance") == "KES 5,000"
    # The same money recorded again from the command line moves nothing more.
    budget.fund_promotions(UnitOfWork(clean_database), amount=5_000 * KES, reference="BANK-0301")
    assert promotions_balance(clean_database) == 5_000 * KES
    assert query(
        clean_database,
        "SELECT count(*), sum(amount) FROM journal_transactions WHERE kind = 'promotions_funding'",
    ) == [(1, 5_000 * KES)]
    other = admin.post("/console/promotions/fund", data={**form, "amount_kes": "6000"})
    assert other.status_code == 409 and "idempotency_key_reused" in other.text
    rows = audited(clean_database, "console_fund_promotions")
    assert [r[4] for r in rows] == ["refused"] * 8 + ["done", "done", "refused"]
    _, kind, target, reason, _, detail = rows[8]
    assert (kind, target, reason) == ("promotions_funding", "BANK-0301", "March")
    assert detail["committed_with_action"] is True and detail["amount"] == 5_000 * KES
    assert rows[9][5]["replayed"] is True


def test_an_admin_opens_a_referral_programme(admin, clean_database):
    csrf = csrf_of(admin.get("/console/promotions").text)
    form = {"csrf": csrf, "bonus_kes": "50", "budget_kes": "10000", "valid_from": "2020-01-01"}
    bad = admin.post("/console/promotions/referral-programme", data={**form, "budget_kes": "10"})
    assert bad.status_code == 422 and "0 &lt; bonus &lt;= budget" in bad.text
    done = admin.post("/console/promotions/referral-programme", data=form)
    assert done.status_code == 200 and "Referral programme opened." in done.text
    assert figure(done.text, "referral-left") == "KES 10,000"
    assert query(clean_database, "SELECT bonus, budget, spent FROM referral_programs") == [
        (50 * KES, 10_000 * KES, 0)
    ]
    rows = audited(clean_database, "console_open_referral_programme")
    assert [r[4] for r in rows] == ["refused", "done"]


def test_the_reconciliation_charts_data_is_each_day_with_or_without_a_report(
    viewer, clean_database
):
    now = datetime.now(UTC)
    day = now.astimezone(NAIROBI).date()
    stellar_report(clean_database, now - timedelta(days=2), 0, [])
    stellar_report(clean_database, now, 3, [])
    stellar_report(clean_database, now + timedelta(seconds=1), 1, [])
    missing = StatementEntry("RCP123ABC9", now, 250_00, "in", "2547******01")
    difference = Difference("missing_at_paytrace", "in", None, missing)
    mpesa_report(clean_database, day - timedelta(days=1), [difference], 3)
    answer = viewer.get("/console/reconciliation.json")
    assert answer.status_code == 200
    data = answer.json()
    assert data["days"] == [(day - timedelta(days=n)).isoformat() for n in range(29, -1, -1)]
    assert data["stellar_drifting"][-3:] == [0, None, 1]  # the day's last run
    assert data["stellar_most"][-3:] == [0, None, 3]
    assert data["mpesa_differences"][-3:] == [None, 1, None]
    assert data["stellar_drifting"][:27] == [None] * 27
    assert 'data-source="/console/reconciliation.json"' in viewer.get("/console").text
