"""The console's books against the outside, over real HTTP: the latest Stellar and
M-Pesa reconciliation reports with their drift and differences, both by Nairobi day;
PayTrace's own Stellar accounts read from the local network's Horizon; and the users
behind the dashboard's new registrations."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from app.config import Settings
from app.db.unit_of_work import UnitOfWork
from app.domain.money import NAIROBI, format_kes
from app.domain.mpesa_reconciliation import Difference, StatementEntry
from app.integrations.stellar import Horizon
from app.services import console_stellar
from app.services.custody import SecretBox
from tests.integration.test_console_tables import console_as
from tests.support.stellar import kes_cents, prepared_system
from tests.support.wallets import fund, phone_of, register, registration_secrets

NOW = datetime.now(UTC)


@pytest.fixture
def live_settings(live_settings: Settings, horizon_url: str) -> Settings:
    return live_settings.model_copy(
        update={"stellar_horizon_url": horizon_url, "stellar_channels": 2}
    )


@pytest.fixture
def viewer(live_server, live_settings, clean_database) -> Iterator[httpx.Client]:
    client = console_as(live_server, live_settings, clean_database, "viewer")
    yield client
    client.close()


def stellar_report(database, finished_at: datetime, drifts: int, drifting: list) -> None:
    with UnitOfWork(database) as uow:
        uow.reconciliation.add_report(
            started_at=finished_at - timedelta(seconds=5),
            finished_at=finished_at,
            accounts=12,
            drifts=drifts,
            report={
                "totals": {"difference": 150_00, "on_chain_held": 9_000_00},
                "drifting": drifting,
            },
        )
        uow.commit()


def mpesa_report(database, day, differences: list[Difference], matched: int) -> None:
    with UnitOfWork(database) as uow:
        uow.mpesa_reconciliation.add_report(
            day=day,
            source="statement_file",
            started_at=NOW,
            finished_at=NOW,
            matched=matched,
            differences=differences,
            totals={},
        )
        uow.commit()


def test_the_latest_reports_their_drift_and_both_by_day(viewer, clean_database):
    today = NOW.astimezone(NAIROBI).date()
    stellar_report(clean_database, NOW - timedelta(days=2), 0, [])
    line = {
        "party": 7, "kind": "wallet", "address": "GDRIFT", "ledger_balance": 500_00,
        "expected_on_chain": 500_00, "actual_on_chain": 350_00, "drift": -150_00,
        "problem": None,
    }  # fmt: skip
    stellar_report(clean_database, NOW, 1, [line])
    missing = StatementEntry("RCP123ABC9", NOW, 250_00, "in", "2547******01")
    mpesa_report(clean_database, today - timedelta(days=2), [], 40)
    mpesa_report(
        clean_database,
        today - timedelta(days=1),
        [Difference("missing_at_paytrace", "in", None, missing)],
        31,
    )

    page = viewer.get("/console/reconciliation")
    assert page.status_code == 200
    assert '<dd data-field="drifts" class="bad">1 party drifting</dd>' in page.text
    assert "GDRIFT" in page.text and '<td class="num">-150</td>' in page.text
    assert "difference KES 150" in page.text
    assert f'<td>{today.isoformat()}</td><td class="num">1</td><td class="num">1</td>' in page.text
    two_days = (today - timedelta(days=2)).isoformat()
    assert f'<td>{two_days}</td><td class="num">1</td><td class="num">0</td>' in page.text
    assert '<dd data-field="differences" class="bad">1</dd>' in page.text
    assert "missing_at_paytrace" in page.text and "RCP123ABC9" in page.text
    assert (
        f'<td>{two_days}</td><td class="num">1</td><td>statement_file</td><td class="num">40</td>'
        in page.text
    )
    dashboard = viewer.get("/console").text
    assert "Stellar: 1 drifting" in dashboard and "1 difference" in dashboard


def test_nothing_reconciled_yet_says_so(viewer):
    page = viewer.get("/console/reconciliation").text
    assert "No reconciliation has run yet" in page and "No M-Pesa reconciliation" in page


def test_paytraces_own_stellar_accounts_as_horizon_shows_them(viewer, live_settings):
    system = prepared_system(live_settings)
    page = viewer.get("/console/stellar")
    assert page.status_code == 200
    for name, keypair in (
        ("issuer", system.issuer),
        ("treasury", system.treasury),
        ("fee", system.fee),
    ):
        assert (
            f'<tr data-account="{name}"><td>{name}</td><td><code>{keypair.public_key}</code>'
            in page.text
        )
    assert 'data-account="channel 1"' in page.text and 'data-account="channel 2"' not in page.text
    horizon = Horizon(live_settings.stellar_horizon_url)
    treasury_kes = kes_cents(horizon, system, system.treasury.public_key)
    assert treasury_kes is not None
    row = page.text.split('data-account="treasury"')[1].split("</tr>")[0]
    assert f'<td class="num" data-field="kes">{format_kes(treasury_kes)}</td>' in row
    native = horizon.account(system.fee.public_key).balances["native"]
    assert f"{native // 10_000_000}." in page.text.split('data-account="fee"')[1].split("</tr>")[0]


def test_an_unreachable_horizon_or_none_is_said_not_raised(live_settings):
    box = SecretBox.from_settings(live_settings)
    down = console_stellar.balances(Horizon("http://127.0.0.1:9", timeout_s=2), live_settings, box)
    assert down.accounts == () and down.problem.startswith("Horizon could not be asked")
    unset = console_stellar.balances(None, live_settings, box)
    assert unset.problem == "STELLAR_HORIZON_URL is not set"


def test_new_registrations_drill_down_to_the_users(viewer, live_settings, clean_database):
    box, pin_hash = registration_secrets(live_settings)
    register(clean_database, box, pin_hash, phone=phone_of(1), name="Alice Wanjiru")
    register(clean_database, box, pin_hash, phone=phone_of(2), name="Bob Otieno")
    fund(clean_database, phone_of(1), 100_00)
    dashboard = viewer.get("/console").text
    link = '<a class="value" data-kpi="registrations" href="/console/figures/registrations?days=1">'
    assert link + "2</a>" in dashboard
    rows = viewer.get("/console/figures/registrations", params={"days": 1}).text
    assert "Alice Wanjiru" in rows and "Bob Otieno" in rows
    assert f'href="/console/users?q={phone_of(1).replace("+", "%2B")}"' in rows
    today = NOW.astimezone(NAIROBI).date()
    that_day = viewer.get("/console/figures/registrations", params={"day": today.isoformat()}).text
    assert "Alice Wanjiru" in that_day
    before = viewer.get(
        "/console/figures/registrations", params={"day": (today - timedelta(days=1)).isoformat()}
    ).text
    assert "Alice Wanjiru" not in before
