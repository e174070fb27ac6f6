"""Send money, balance and mini statement over real HTTP, as AT drives them, checked
in the PostgreSQL ledger and in the SMS sandbox (outbox -> worker -> AT SDK)."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from app.db.pool import Database
from app.services.custody import SecretBox
from app.services.pins import PinHasher
from app.worker.outbox import build_worker
from tests.e2e.at_gateway import AtGateway
from tests.support.wallets import check_ledger, fund, phone_of, register

JANE, AMINA, STRANGER = phone_of(1), phone_of(2), phone_of(3)
AMINA_LOCAL = "0711000002"
JANE_PIN, AMINA_PIN = "4821", "5937"
KES = 100  # cents
SENT = re.compile(
    r"^END Sent KES 250 to Amina Otieno \+2547\*\*\*\*0002\. Fee KES 5\. "
    r"Ref ([A-Z2-9]{10})\. New balance KES 745\.$"
)


@pytest.fixture
def two_users(live_settings, database):
    """Jane (KES 1,000 cashed in) and Amina, registered through the real services."""
    hasher = PinHasher.from_settings(live_settings)
    box = SecretBox.from_settings(live_settings)
    ids = {
        JANE: register(database, box, hasher.hash(JANE_PIN), phone=JANE, name="Jane Wanjiku"),
        AMINA: register(database, box, hasher.hash(AMINA_PIN), phone=AMINA, name="Amina Otieno"),
    }
    fund(database, JANE, 1_000 * KES)
    return ids


def rows(database: Database, sql: str, **params):
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        found = cur.fetchall()
        conn.rollback()
    return found


def balances(database: Database) -> dict[str, int]:
    return dict(
        rows(
            database,
            "SELECT u.phone, a.balance FROM ledger_accounts a JOIN users u ON u.id = a.user_id",
        )
    )


def deliver_sms(settings, database) -> list[dict]:
    worker = build_worker(settings, database)
    while worker.run_once():
        pass
    return httpx.get(f"{settings.base_url}/sandbox/sms").json()


def at_confirm(server_url: str) -> AtGateway:
    gateway = AtGateway(server_url, JANE)
    assert gateway.dial().startswith("CON PayTrace - Hi Jane\n1. Send money")
    assert gateway.send("1").startswith("CON Enter the phone number to send to")
    assert gateway.send(AMINA_LOCAL).startswith("CON Send to Amina Otieno +2547****0002")
    assert gateway.send("250").startswith(
        "CON Send KES 250 to Amina Otieno +2547****0002\nFee 5, total KES 255\n"
        "Enter PIN\n9. Repeat monthly"
    )
    return gateway


def test_send_money_moves_money_once_and_confirms_by_sms_to_both(
    live_server, live_settings, database, two_users
):
    gateway = at_confirm(live_server.url)
    end = gateway.send(JANE_PIN)
    reference = SENT.match(end).group(1)

    # AT posts the confirm hop again: the same answer, and nothing moves twice.
    assert gateway.hop() == end
    transfers = rows(
        database,
        "SELECT reference, amount, fee, idempotency_key, channel"
        " FROM journal_transactions WHERE kind = 'transfer'",
    )
    assert len(transfers) == 1
    assert transfers[0][:3] == (reference, 250 * KES, 5 * KES)
    assert transfers[0][3].startswith(f"transfer:{two_users[JANE]}:ussd:")
    assert transfers[0][4] == "ussd"
    assert balances(database) == {JANE: 745 * KES, AMINA: 250 * KES}
    ledger = check_ledger(database)
    assert ledger.sum_of_all_legs == 0 and ledger.negative_wallets == 0
    assert ledger.unbalanced_transactions == 0 and ledger.balances_not_equal_to_legs == 0

    inbox = [m for m in deliver_sms(live_settings, database) if reference in m["message"]]
    to_jane = [m["message"] for m in inbox if m["to"] == JANE]
    to_amina = [m["message"] for m in inbox if m["to"] == AMINA]
    assert len(to_jane) == 1 and "KES 250 sent to Amina Otieno" in to_jane[0]
    assert len(to_amina) == 1 and "received KES 250 from Jane Wanjiku" in to_amina[0]
    # The worker runs again: still one each.
    again = [m for m in deliver_sms(live_settings, database) if reference in m["message"]]
    assert len(again) == 2


def test_confirm_hop_posted_twice_at_once_sends_once(live_server, database, two_users):
    gateway = at_confirm(live_server.url)
    gateway.inputs.append(JANE_PIN)
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda _: gateway.hop(), range(2)))
    assert answers[0] == answers[1]
    assert SENT.match(answers[0])
    assert len(rows(database, "SELECT 1 FROM journal_transactions WHERE kind = 'transfer'")) == 1
    assert balances(database) == {JANE: 745 * KES, AMINA: 250 * KES}


def test_direct_dial_of_phone_amount_and_pin_sends_in_one_hop(live_server, database, two_users):
    gateway = AtGateway(live_server.url, JANE)
    gateway.session_id = "ATUid_direct_dial"
    gateway.inputs = ["1", AMINA_LOCAL, "100", JANE_PIN]  # *384*123*1*0711000002*100*4821#
    assert gateway.hop().startswith("END Sent KES 100 to Amina Otieno")
    assert balances(database) == {JANE: 900 * KES, AMINA: 100 * KES}


def test_mini_statement_and_balance_show_the_transfer(live_server, database, two_users):
    reference = SENT.match(at_confirm(live_server.url).send(JANE_PIN)).group(1)
    [(cash_in_reference,)] = rows(
        database, "SELECT reference FROM journal_transactions WHERE kind = 'cash_in'"
    )
    statement = AtGateway(live_server.url, JANE).walk("6", "2", JANE_PIN)
    lines = statement.split("\n")
    assert lines[0] == "CON Mini statement 1/1"
    assert re.fullmatch(rf"\d\d/\d\d Amina O\. -255 {reference}", lines[1])
    assert re.fullmatch(rf"\d\d/\d\d Cash in \+1,000 {cash_in_reference}", lines[2])
    assert lines[3:] == ["0. Back 00. Home"]

    received = AtGateway(live_server.url, AMINA).walk("6", "2", AMINA_PIN)
    assert f"Jane W. +250 {reference}" in received

    balance = AtGateway(live_server.url, JANE).walk("6", "1", JANE_PIN)
    assert balance == "END Your PayTrace balance is KES 745."


def test_amount_re_prompts_come_from_the_real_ledger_rules(live_server, database, two_users):
    gateway = AtGateway(live_server.url, JANE)
    gateway.walk("1", AMINA_LOCAL)
    assert gateway.send("1000").startswith(
        "CON Balance too low: KES 1,000. With the fee this needs KES 1,010."
    )
    assert gateway.send("80000").startswith("CON Above your limit of KES 70,000 per transaction.")
    assert gateway.send("12.50").startswith("CON Whole shillings only, no cents.")
    assert gateway.send("990").startswith("CON Send KES 990 to Amina Otieno")


def test_unregistered_number_gets_one_invitation_sms(
    live_server, live_settings, database, two_users
):
    gateway = AtGateway(live_server.url, JANE)
    assert gateway.walk("1", STRANGER).startswith("CON +2547****0003 is not on PayTrace.")
    assert gateway.send("1").startswith("END We have sent +2547****0003 an SMS inviting them")
    again = AtGateway(live_server.url, JANE).walk("1", STRANGER, "1")
    assert again.startswith("END +2547****0003 was already invited today.")
    invites = [m for m in deliver_sms(live_settings, database) if m["to"] == STRANGER]
    assert len(invites) == 1 and "Jane wants to send you money" in invites[0]["message"]


def test_wrong_pins_at_confirm_lock_send_money_which_then_ends_at_once(
    live_server, database, two_users
):
    gateway = at_confirm(live_server.url)
    assert gateway.send("1111").startswith("CON Wrong PIN. 2 attempt(s) left.")
    assert gateway.send("2222").startswith("CON Wrong PIN. 1 attempt(s) left.")
    assert gateway.send("3333").startswith("END Wrong PIN 3 times.")
    later = AtGateway(live_server.url, JANE).walk("1")
    assert later.startswith("END Your PIN is locked until ")
    assert later.endswith(". You can still receive money.")
    assert rows(database, "SELECT 1 FROM journal_transactions WHERE kind = 'transfer'") == []
    # Money can still arrive.
    fund(database, AMINA, 100 * KES)
    assert (
        AtGateway(live_server.url, AMINA)
        .walk("1", "0711000001", "50", AMINA_PIN)
        .startswith("END Sent KES 50 to Jane Wanjiku")
    )
