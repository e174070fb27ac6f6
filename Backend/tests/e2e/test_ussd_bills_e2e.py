"""Pay a bill over /ussd as AT drives it, against the local Daraja sandbox over real
HTTP: KPLC prepaid with the holder's name from the biller, held once (the PIN hop
repeated), paid by the worker through Business Pay Bill, delivered on M-Pesa's status
answer with the token by SMS; My recent tokens sends it again, once per hop. An account
the biller does not know is asked again. Balances and the ledger checked."""

from __future__ import annotations

import re
import secrets

import pytest

from app.sandboxes.daraja.b2b import UNKNOWN_ACCOUNT_SUFFIX, holder_name
from app.worker.bills import PaybillChecker
from tests.e2e.at_gateway import AtGateway
from tests.support import seeds
from tests.support.bills import journal_kinds, rows
from tests.support.mpesa import mpesa_rig
from tests.support.wallets import (
    check_ledger,
    fund,
    phone_of,
    register,
    registration_secrets,
    wallet_balance,
)

JANE, PIN = phone_of(1), "4821"
KES = 100
KPLC = seeds.biller("kplc_prepaid")
FEE = seeds.fee(KPLC.fee_kind, 500 * KES)
ENDED = re.compile(
    r"^END KPLC prepaid KES 500 for meter (\d{11}) is being paid\. Ref ([A-Z2-9]{10})\. "
    r"New balance KES ([0-9,]+)\. An SMS will confirm\.$"
)


@pytest.fixture
def rig(live_settings, database, tmp_path):
    with mpesa_rig(live_settings, database, tmp_path) as rig:
        box, pin_hash = registration_secrets(rig.settings, PIN)
        rig.user_id = register(rig.database, box, pin_hash, phone=JANE, name="Jane Wanjiku")
        fund(rig.database, JANE, 1_000 * KES)
        rig.paybill = PaybillChecker.from_settings(rig.settings, database)
        yield rig


def a_meter() -> str:
    while True:
        meter = "".join(secrets.choice("123456789") for _ in range(11))
        if not meter.endswith(UNKNOWN_ACCOUNT_SUFFIX):
            return meter


def test_kplc_prepaid_over_ussd_then_my_recent_tokens(rig):
    meter = a_meter()
    gateway = AtGateway(rig.paytrace.url, JANE)
    assert gateway.walk("5", "1", "2").startswith("CON Pay a bill\n1. KPLC prepaid\n")
    name = holder_name(KPLC.paybill, meter)
    assert gateway.send("1") == "CON KPLC prepaid\nEnter meter number\n0. Back 00. Home"
    assert gateway.send(meter) == (
        f"CON KPLC prepaid {meter}, {name}\nEnter amount in KES\n0. Back 00. Home"
    )
    assert gateway.send("500").startswith(f"CON KPLC prepaid {meter}, {name}\nKES 500")
    end = gateway.send(PIN)
    shown, reference, balance = ENDED.match(end).groups()
    assert (shown, balance) == (meter, f"{(1_000 * KES - 500 * KES - FEE) // KES:,}")
    assert gateway.hop() == end  # AT repeats the PIN hop: held once
    assert journal_kinds(rig.database) == ["bill_hold"]

    def delivered():
        rig.paybill.run_once()
        return rows(
            rig.database,
            "SELECT token FROM bill_payments WHERE reference = %(r)s AND status = 'delivered'",
            {"r": reference},
        )

    [(token,)] = rig.until(delivered)
    spaced = "-".join(token[i : i + 4] for i in range(0, 20, 4))
    rig.until(lambda: rig.sms(JANE, about=spaced))
    assert journal_kinds(rig.database) == ["bill_hold", "bill_payment"]

    again = AtGateway(rig.paytrace.url, JANE)
    assert again.walk("5", "1", "3") == "END Your last 1 token(s) are coming by SMS."
    again.hop()  # AT repeats it: one more SMS, not two
    rig.until(lambda: len(rig.sms(JANE, about=spaced)) == 2)
    rig.settle_for(0.5)
    assert len(rig.sms(JANE, about=spaced)) == 2
    assert wallet_balance(rig.database, rig.user_id) == 1_000 * KES - 500 * KES - FEE
    assert check_ledger(rig.database).sound


def test_a_meter_the_biller_does_not_know_is_asked_again(rig):
    unknown = a_meter()[: -len(UNKNOWN_ACCOUNT_SUFFIX)] + UNKNOWN_ACCOUNT_SUFFIX
    gateway = AtGateway(rig.paytrace.url, JANE)
    gateway.walk("5", "1", "2", "1")
    assert gateway.send(unknown).startswith(
        "CON Check the meter number: KPLC prepaid does not take it.\n"
    )
    assert journal_kinds(rig.database) == []
