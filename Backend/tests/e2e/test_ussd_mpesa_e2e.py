"""Deposit, send and withdraw over `/ussd` exactly as Africa's Talking drives it, against
PayTrace's local Daraja sandbox over real HTTP (STK push, B2C, their callbacks), with
the outbox worker and the M-Pesa checker running: balances, the SMS each user gets,
and money conserved across the M-Pesa float."""

from __future__ import annotations

import re

import pytest

from tests.e2e.at_gateway import AtGateway
from tests.support.mpesa import mpesa_rig, rows
from tests.support.wallets import check_ledger, phone_of, register, registration_secrets

KES = 100
JANE, AMINA = phone_of(1), phone_of(2)
JANE_PIN = "4821"


@pytest.fixture
def rig(live_settings, database, tmp_path):
    with mpesa_rig(live_settings, database, tmp_path) as rig:
        box, pin_hash = registration_secrets(rig.settings, JANE_PIN)
        register(database, box, pin_hash, phone=JANE, name="Jane Wanjiku")
        register(database, box, pin_hash, phone=AMINA, name="Amina Otieno")
        yield rig


def balances(rig) -> dict[str, int]:
    found = rows(
        rig.database,
        "SELECT coalesce(u.phone, split_part(a.code, ':', 1)), sum(a.balance)"
        " FROM ledger_accounts a LEFT JOIN users u ON u.id = a.user_id GROUP BY 1",
    )
    return {name: int(total) for name, total in found}


def status_of(rig, table: str) -> list[str]:
    return [status for (status,) in rows(rig.database, f"SELECT status FROM {table} ORDER BY id")]


def test_deposit_send_and_withdraw_over_ussd_against_the_daraja_sandbox(rig):
    jane = AtGateway(rig.paytrace.url, JANE)

    # Deposit KES 1,000: a prompt on Jane's phone, credited on M-Pesa's callback.
    assert jane.walk("2").startswith("CON Deposit from M-Pesa +2547****0001\nEnter amount")
    assert jane.send("1000") == (
        "END Check your phone: enter your M-Pesa PIN to deposit KES 1,000. "
        "We will send you an SMS when it arrives."
    )
    rig.until(lambda: status_of(rig, "mpesa_deposits") == ["completed"])
    assert balances(rig)[JANE] == 1_000 * KES

    # Send KES 250 to Amina (fee KES 5).
    jane.walk("1", "0711000002", "250")
    assert jane.send(JANE_PIN).startswith("END Sent KES 250 to Amina Otieno")

    # Withdraw KES 500 (fee KES 15): held at once, paid out on M-Pesa's result.
    assert jane.walk("3", "500") == (
        "CON Withdraw KES 500 to M-Pesa +2547****0001? Fee KES 15. Total KES 515.\n"
        "Enter PIN to confirm\n0. Back 00. Home"
    )
    end = jane.send(JANE_PIN)
    reference = re.search(r"Ref ([A-Z2-9]{10})\.", end).group(1)
    assert end.startswith("END KES 500 is on its way to your M-Pesa. Fee KES 15.")
    assert "New balance KES 230." in end
    assert jane.hop() == end  # AT repeats the hop: nothing is held twice
    rig.until(lambda: status_of(rig, "mpesa_withdrawals") == ["completed"])

    totals = balances(rig)
    assert totals[JANE] == 230 * KES and totals[AMINA] == 250 * KES
    assert totals["fees"] == 20 * KES and totals["mpesa_hold"] == 0
    # In through M-Pesa KES 1,000, out KES 500: the float is the difference, and every
    # shilling PayTrace owes (wallets) or earned (fees) is backed by it.
    assert totals["mpesa_float"] == -500 * KES
    assert totals[JANE] + totals[AMINA] + totals["fees"] == -totals["mpesa_float"]
    assert sum(totals.values()) == 0
    assert check_ledger(rig.database).sound

    jane_sms = rig.sms(JANE, about="PayTrace ")
    assert any("KES 1,000 deposited from M-Pesa" in m for m in jane_sms)
    assert any("KES 250 sent to Amina Otieno" in m for m in jane_sms)
    sent = [m for m in jane_sms if "sent to your M-Pesa" in m]
    assert len(sent) == 1 and sent[0].startswith(f"PayTrace {reference} confirmed. KES 500")
    assert any("received KES 250 from Jane Wanjiku" in m for m in rig.sms(AMINA, "KES 250"))

    # The mini statement tells M-Pesa movements by what they were.
    statement = jane.walk("6", "2", JANE_PIN)
    assert " Withdrawal -515 " in statement and " Deposit +1,000 " in statement


def test_a_withdrawal_m_pesa_cannot_pay_comes_back_to_the_wallet(rig):
    jane = AtGateway(rig.paytrace.url, JANE)
    jane.walk("2")
    jane.send("300")
    rig.until(lambda: status_of(rig, "mpesa_deposits") == ["completed"])

    jane.walk("3", "111")  # the sandbox answers "insufficient funds" for amounts ending 11
    assert "New balance KES 174." in jane.send(JANE_PIN)  # KES 111 + KES 15 held

    rig.until(lambda: status_of(rig, "mpesa_withdrawals") == ["released"])
    totals = balances(rig)
    assert totals[JANE] == 300 * KES and totals["mpesa_hold"] == 0 and totals["fees"] == 0
    [sms] = rig.sms(JANE, about="did not go through")
    assert "KES 126 is back in your wallet. New balance KES 300." in sms
    assert check_ledger(rig.database).sound


def test_a_deposit_the_customer_cancels_is_told_by_sms(rig):
    jane = AtGateway(rig.paytrace.url, JANE)
    jane.walk("2")
    jane.send("132")  # the sandbox cancels amounts ending 32
    rig.until(lambda: status_of(rig, "mpesa_deposits") == ["failed"])
    [sms] = rig.sms(JANE, about="did not go through")
    assert "the M-Pesa prompt was cancelled" in sms
    assert balances(rig)[JANE] == 0
