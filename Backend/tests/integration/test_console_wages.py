"""The console's wages report over real HTTP, on real PostgreSQL: an employer pays two
runs in November (one line fails: its phone has no wallet), another pays in October;
the month's page, the employer's page and its CSV say what the paid lines say, summed
here from the pay_run_lines rows themselves."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime

import httpx
import pytest

from app.db.unit_of_work import UnitOfWork
from app.domain.money import format_kes, nairobi_day
from app.domain.phone import mask
from app.domain.wages import ITEMS
from app.services.wages import employers, reports
from app.services.wages.line_payments import dues_code
from tests.integration.test_console_tables import audited, console_as, query
from tests.integration.test_wages import UNREGISTERED, account_balance, add, approve, new_run
from tests.integration.test_wages import wage_worker as outbox_of_wages
from tests.support.wallets import fund, phone_of, register, registration_secrets

NOVEMBER = "2025-11"


@pytest.fixture
def paid(live_settings, clean_database) -> tuple[int, int]:
    """Wanjiru (employer) pays Achieng twice and Kiprop once in November 2025, and a line
    to a phone without a wallet fails; Otieno (employer) pays Kiprop in October."""
    db = clean_database
    box, pin_hash = registration_secrets(live_settings)
    wanjiru = register(db, box, pin_hash, phone=phone_of(1), name="Wanjiru Kamau")
    otieno = register(db, box, pin_hash, phone=phone_of(4), name="Otieno Ouma")
    register(db, box, pin_hash, phone=phone_of(2), name="Achieng Odhiambo")
    register(db, box, pin_hash, phone=phone_of(3), name="Kiprop Ruto")
    for employer, phone in ((wanjiru, phone_of(1)), (otieno, phone_of(4))):
        fund(db, phone, 20_000_000)
        assert employers.become_employer(UnitOfWork(db), employer)
    achieng = add(db, wanjiru, phone_of(2), "Achieng").id
    add(db, wanjiru, phone_of(3), "Kiprop", gross=5_000_000)  # pays PAYE
    add(db, wanjiru, UNREGISTERED, "Baraka")  # no wallet: the line fails
    add(db, otieno, phone_of(3), "Kiprop", gross=3_000_000)
    runs = [
        new_run(db, wanjiru, "nov-end", pay_date=date(2025, 11, 28)).run,
        new_run(db, otieno, "oct", pay_date=date(2025, 10, 31)).run,
    ]
    new_run(db, wanjiru, "nov-draft", pay_date=date(2025, 11, 29))  # never approved
    for run in runs:
        approve(db, run.employer_user_id, run.id)
    outbox_of_wages(db).run_once()
    # A second November run of Achieng only (mid-month), paid too.
    mid = new_run(db, wanjiru, "nov-mid", pay_date=date(2025, 11, 15), worker_ids=[achieng])
    approve(db, wanjiru, mid.run.id)
    outbox_of_wages(db).run_once()
    return wanjiru, otieno


def expected(db, employer: int, first: date, last: date) -> dict[str, int]:
    """The month's figures summed here from the paid pay_run_lines rows."""
    rows = query(
        db,
        """
        SELECT l.pay_run_id, l.phone, l.gross, l.net, l.deductions
        FROM pay_run_lines l JOIN pay_runs r ON r.id = l.pay_run_id
        WHERE r.employer_user_id = %(e)s AND l.status = 'paid'
          AND r.pay_date BETWEEN %(first)s AND %(last)s
        """,
        {"e": employer, "first": first, "last": last},
    )
    sums = {
        "runs": len({row[0] for row in rows}),
        "workers": len({row[1] for row in rows}),
        "gross": sum(row[2] for row in rows),
        "net": sum(row[3] for row in rows),
    }
    for item in ITEMS:
        parts = [part for row in rows for part in row[4] if part["item"] == item]
        sums[f"{item}_worker"] = sum(part["employee"] for part in parts)
        sums[f"{item}_employer"] = sum(part["employer"] for part in parts)
    sums["total_due"] = sum(v for k, v in sums.items() if k.endswith(("_worker", "_employer")))
    return sums


def fields_of(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-field="(\w+)">(?:KES )?([^<]*)<', html))


def row_of(html: str, employer: int) -> str:
    found = re.search(rf'<tr data-employer="{employer}">(.*?)</tr>', html, re.S)
    assert found, f"no row for employer {employer}"
    return found.group(1)


def shown(sums: dict[str, int]) -> dict[str, str]:
    return {k: str(v) if k in ("runs", "workers") else format_kes(v) for k, v in sums.items()}


@pytest.fixture
def viewer(live_server, live_settings, clean_database) -> Iterator[httpx.Client]:
    client = console_as(live_server, live_settings, clean_database, "viewer")
    yield client
    client.close()


def test_the_months_page_sums_each_employers_paid_lines(viewer, clean_database, paid):
    wanjiru, otieno = paid
    november = expected(clean_database, wanjiru, date(2025, 11, 1), date(2025, 11, 30))
    assert (november["runs"], november["workers"]) == (2, 2)  # the failed line and draft not
    assert november["paye_worker"] > 0 and november["nssf_employer"] > 0

    page = viewer.get("/console/wages", params={"month": NOVEMBER})

    assert page.status_code == 200
    assert fields_of(row_of(page.text, wanjiru)) == shown(november)
    assert f'data-employer="{otieno}"' not in page.text  # paid in October
    october = viewer.get("/console/wages", params={"month": "2025-10"}).text
    assert fields_of(row_of(october, otieno)) == shown(
        expected(clean_database, otieno, date(2025, 10, 1), date(2025, 10, 31))
    )
    assert f'data-employer="{wanjiru}"' not in october


def test_the_page_finds_an_employer_by_phone_or_paytrace_id(viewer, clean_database, paid):
    wanjiru, otieno = paid
    by_phone = viewer.get("/console/wages", params={"month": NOVEMBER, "q": "0711000001"}).text
    assert f'data-employer="{wanjiru}"' in by_phone
    pt_id = query(clean_database, "SELECT paytrace_id FROM users WHERE id = %(u)s", {"u": otieno})
    by_id = viewer.get("/console/wages", params={"month": "2025-10", "q": pt_id[0][0]}).text
    assert f'data-employer="{otieno}"' in by_id
    nobody = viewer.get("/console/wages", params={"month": NOVEMBER, "q": "0711000077"}).text
    assert "data-employer=" not in nobody and "No wages paid this month by this employer" in nobody
    assert audited(clean_database, "console_wages")[-1][-1]["query"] == "0711000077"


def test_an_employers_page_shows_its_dues_and_every_line(viewer, clean_database, paid):
    wanjiru, _ = paid
    november = expected(clean_database, wanjiru, date(2025, 11, 1), date(2025, 11, 30))

    page = viewer.get(f"/console/wages/{wanjiru}", params={"month": NOVEMBER})

    assert page.status_code == 200
    card = fields_of(page.text.split('id="dues"')[0])
    assert card == {k: v for k, v in shown(november).items() if "_" not in k or k == "total_due"}
    for item in ITEMS:
        row = re.search(rf'<tr data-item="{item}">(.*?)</tr>', page.text, re.S).group(1)
        assert fields_of(row) == {
            "worker": format_kes(november[f"{item}_worker"]),
            "employer": format_kes(november[f"{item}_employer"]),
            "total": format_kes(november[f"{item}_worker"] + november[f"{item}_employer"]),
            # Wanjiru paid in November only: the ledger's dues account holds the month.
            "accrued": format_kes(account_balance(clean_database, dues_code(wanjiru, item))),
        }
        assert fields_of(row)["accrued"] == fields_of(row)["total"]
    lines = query(
        clean_database,
        """SELECT l.id, l.status, r.reference FROM pay_run_lines l
           JOIN pay_runs r ON r.id = l.pay_run_id
           WHERE r.employer_user_id = %(e)s AND r.hold_id IS NOT NULL""",
        {"e": wanjiru},
    )
    assert sorted(re.findall(r'data-line="(\d+)" data-status="(\w+)"', page.text)) == sorted(
        (str(line_id), status) for line_id, status, _ in lines
    )
    assert {status for _, status, _ in lines} == {"paid", "failed"}
    assert all(reference in page.text for _, _, reference in lines)
    assert mask(phone_of(2)) in page.text and phone_of(2) not in page.text
    assert audited(clean_database, "console_employer_wages")[-1][1:3] == ("employer", str(wanjiru))


def test_the_csv_download_is_the_employer_apis_report(viewer, clean_database, paid):
    wanjiru, otieno = paid
    answer = viewer.get(f"/console/wages/{wanjiru}/dues.csv", params={"month": NOVEMBER})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.text == reports.dues_csv(UnitOfWork(clean_database), wanjiru, 2025, 11)
    assert "attachment" in answer.headers["content-disposition"]
    other = viewer.get(f"/console/wages/{otieno}/dues.csv", params={"month": NOVEMBER})
    assert other.text.splitlines() == [",".join(reports.HEADER)]  # nothing paid then


def test_the_month_defaults_to_nairobis_and_a_bad_one_or_employer_is_refused(viewer, paid):
    wanjiru, _ = paid
    today = nairobi_day(datetime.now(UTC))
    current = viewer.get("/console/wages")
    assert current.status_code == 200 and today.strftime("%B %Y") in current.text
    assert viewer.get("/console/wages", params={"month": "2025-13"}).status_code == 422
    assert viewer.get(f"/console/wages/{wanjiru}", params={"month": "25-11"}).status_code == 422
    no_such = viewer.get("/console/wages/999999", params={"month": NOVEMBER})
    assert no_such.status_code == 404 and "not_an_employer" in no_such.text
    assert viewer.get("/console/wages/999999/dues.csv").status_code == 404
