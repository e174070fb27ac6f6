"""The console's harambee campaigns over real HTTP: the list (search by title or code,
status filter, paging), a campaign's page (escrow, totals, pledges, contributions, its
payout's settlement), and an operator finishing a cancelled campaign's refunds (the
refunds and the audit row commit together; a second post refunds nobody twice)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from app.db.unit_of_work import UnitOfWork
from app.domain.money import nairobi_day
from app.services.harambee import campaigns, closing, contributions, pledges
from app.services.harambee.contributions import ContributionRequest
from tests.integration.test_console_tables import console_as, query
from tests.support.console import csrf_of
from tests.support.wallets import SHORTCODE, fund, phone_of, register, registration_secrets


@pytest.fixture
def people(live_settings, clean_database) -> list[int]:
    """An organiser (1) and two contributors (2, 3), each funded with KES 10,000."""
    box, pin_hash = registration_secrets(live_settings)
    ids = []
    for n, name in ((1, "Wanjiru Kamau"), (2, "Otieno Ouma"), (3, "Akinyi Njeri")):
        ids.append(register(clean_database, box, pin_hash, phone=phone_of(n), name=name))
        fund(clean_database, phone_of(n), 10_000_00)
    return ids


def start(database, organiser: int, title: str, key: str, target: int = 1_000_00):
    return campaigns.start_campaign(
        UnitOfWork(database),
        organiser_user_id=organiser,
        title=title,
        target_amount=target,
        key=key,
        shortcode=SHORTCODE,
    ).campaign


def give(database, user: int, campaign_id: int, amount: int, key: str) -> None:
    contributions.contribute(
        UnitOfWork(database), ContributionRequest(user, campaign_id, amount, key)
    )


@pytest.fixture
def operator(live_server, live_settings, clean_database) -> Iterator[httpx.Client]:
    client = console_as(live_server, live_settings, clean_database, "operator")
    yield client
    client.close()


def test_campaigns_are_listed_searched_and_filtered_by_status(operator, clean_database, people):
    organiser, giver, _ = people
    school = start(clean_database, organiser, "School fees for Amani", "a")
    funeral = start(clean_database, organiser, "Funeral of Mzee Odhiambo", "b", target=500_00)
    give(clean_database, giver, funeral.id, 500_00, "g1")  # funded

    listed = operator.get("/console/campaigns")
    assert listed.status_code == 200
    assert "School fees for Amani" in listed.text and "Funeral of Mzee" in listed.text
    found = operator.get("/console/campaigns", params={"q": "amani"}).text
    assert "School fees for Amani" in found and "Funeral" not in found
    by_code = operator.get("/console/campaigns", params={"q": funeral.code}).text
    assert "Funeral of Mzee" in by_code and "School fees" not in by_code
    funded = operator.get("/console/campaigns", params={"status": "funded"}).text
    assert "Funeral of Mzee" in funded and "School fees" not in funded
    bad = operator.get("/console/campaigns", params={"status": "open"})
    assert bad.status_code == 422 and "invalid_status" in bad.text
    older = operator.get("/console/campaigns", params={"before": funeral.id}).text
    assert "School fees" in older and "Funeral" not in older
    assert school.id < funeral.id


def test_a_campaigns_page_shows_its_escrow_pledges_contributions_and_payout(
    operator, clean_database, people
):
    organiser, giver, other = people
    camp = start(clean_database, organiser, "Roof for the church", "c")
    give(clean_database, giver, camp.id, 300_00, "g1")
    give(clean_database, other, camp.id, 200_00, "g2")
    pledges.make_pledge(
        UnitOfWork(clean_database),
        user_id=other,
        campaign_id=camp.id,
        amount=400_00,
        due_date=nairobi_day(datetime.now(UTC)) + timedelta(days=7),
        key="p1",
        shortcode=SHORTCODE,
    )
    page = operator.get(f"/console/campaigns/{camp.id}").text
    assert '<dd data-field="escrow">KES 500</dd>' in page
    assert '<dd data-field="raised">KES 500</dd>' in page
    assert "2 from 2 people" in page
    assert "Otieno Ouma" in page and "Akinyi Njeri" in page
    assert "<td>pledged</td>" in page and '<td class="num">400</td>' in page
    assert "open: the escrow is paid out" in page

    closing.close_campaign(UnitOfWork(clean_database), campaign_id=camp.id, user_id=organiser)
    closed = operator.get(f"/console/campaigns/{camp.id}").text
    payout_id = query(
        clean_database, "SELECT payout_id FROM campaigns WHERE id = %(c)s", {"c": camp.id}
    )[0][0]
    assert f'href="/console/transactions/{payout_id}"' in closed
    assert "paid out to the organiser" in closed and "Stellar: pending" in closed
    assert operator.get("/console/campaigns/999999").status_code == 404


def test_an_operator_finishes_a_cancelled_campaigns_refunds_once(operator, clean_database, people):
    organiser, giver, other = people
    camp = start(clean_database, organiser, "Harvest festival", "d")
    give(clean_database, giver, camp.id, 300_00, "g1")
    give(clean_database, other, camp.id, 200_00, "g2")
    # A cancel interrupted after its first commit: cancelled, nobody refunded yet.
    with UnitOfWork(clean_database) as uow:
        uow.campaigns.end(camp.id, status="cancelled", payout_id=None, now=datetime.now(UTC))
        uow.commit()
    page = operator.get(f"/console/campaigns/{camp.id}").text
    assert "2 contributor(s) still owed" in page
    csrf = csrf_of(page)
    done = operator.post(f"/console/campaigns/{camp.id}/refund", data={"csrf": csrf})
    assert done.status_code == 200 and "2 contributor(s) refunded now" in done.text
    balances = query(
        clean_database,
        "SELECT a.balance FROM ledger_accounts a WHERE a.id = %(a)s",
        {"a": camp.account_id},
    )
    assert balances == [(0,)]
    again = operator.post(f"/console/campaigns/{camp.id}/refund", data={"csrf": csrf})
    assert "0 contributor(s) refunded now" in again.text
    refunds = query(
        clean_database, "SELECT count(*) FROM journal_transactions WHERE kind = 'campaign_refund'"
    )
    assert refunds == [(2,)]
    audited = query(
        clean_database,
        "SELECT actor, outcome, target_id, detail->>'refunds', detail->>'committed_with_action'"
        " FROM admin_audit WHERE action = 'console_refund_contributors' ORDER BY id",
    )
    # The first refund's commit wrote the row; the repeat changed nothing, its row after.
    assert audited[0][1:3] == ("done", str(camp.id)) and audited[0][4] == "true"
    assert audited[1][1:4] == ("done", str(camp.id), "0") and audited[1][4] is None


def test_an_open_campaign_is_not_refunded(operator, clean_database, people):
    camp = start(clean_database, people[0], "Water tank", "e")
    give(clean_database, people[1], camp.id, 100_00, "g1")
    csrf = csrf_of(operator.get(f"/console/campaigns/{camp.id}").text)
    refused = operator.post(f"/console/campaigns/{camp.id}/refund", data={"csrf": csrf})
    assert refused.status_code == 409 and "not_cancelled" in refused.text
