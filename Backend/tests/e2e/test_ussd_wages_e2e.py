"""Wages end to end over /ussd as AT drives it: an employer adds a worker and pays them
a month with the PIN (My account > I employ someone), the real worker pays the line and
the payslip SMS reaches the worker's phone through the sandbox, and the worker reads it
under My pay; then the employer puts the worker's pay on a monthly schedule, which lists
under Scheduled payments, and renames the worker. The worker is added without PAYE
(chosen on USSD), none being due on this pay."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from app.domain.money import nairobi_day
from app.services.custody import SecretBox
from app.services.pins import PinHasher
from app.worker.outbox import build_worker
from tests.e2e.at_gateway import AtGateway
from tests.support.wallets import check_ledger, fund, phone_of, register, wallet_balance

JANE, ACHIENG = phone_of(1), phone_of(2)


def test_an_employer_pays_a_month_over_ussd_and_the_worker_gets_the_payslip(
    live_server, live_settings, database
):
    hasher = PinHasher.from_settings(live_settings)
    box = SecretBox.from_settings(live_settings)
    register(database, box, hasher.hash("4821"), phone=JANE, name="Jane Wanjiku")
    achieng = register(
        database, box, hasher.hash("5937"), phone=ACHIENG, name="Achieng Odhiambo",
        language="sw",
    )  # fmt: skip
    fund(database, JANE, 10_000_000)

    employer = AtGateway(live_server.url, JANE)
    # No worker yet: straight to adding one (Jane becomes an employer on the first).
    assert employer.walk("6", "9").startswith("CON Add a worker\n")
    assert employer.send(ACHIENG).startswith("CON Enter the worker's name")
    assert employer.send("Achieng").startswith("CON Gross pay of Achieng")
    assert employer.send("16,114").startswith("CON Achieng: KES 16,114 gross.")
    assert employer.send("1").startswith("CON Achieng: KES 16,114 a month gross. Deductions?")
    # Jane chooses the items: PAYE off (none is due on this pay: the payslip is the same).
    assert employer.send("2").startswith("CON Deductions of Achieng, pick to switch:\n")
    assert employer.send("4").endswith("4. PAYE: no\n5. Done\n0. Back 00. Home")
    assert employer.send("5").endswith(
        "Deducted: NSSF, SHIF, Housing levy.\n1. Add\n0. Back 00. Home"
    )
    assert employer.send("1") == (
        "END Achieng added: KES 16,114 a month. Pay them under My account > I employ someone."
    )

    employer = AtGateway(live_server.url, JANE)
    assert employer.walk("6", "9") == (
        "CON Your workers\n1. Achieng\n9. Add worker\n0. Back 00. Home"
    )
    assert employer.send("1").startswith("CON Achieng: KES 16,114 a month gross\n1. Pay now\n")
    assert employer.send("1").startswith("CON Pay Achieng net KES 14,462\n")
    assert employer.send("4821") == "END Paid: Achieng gets KES 14,462 and a payslip by SMS."

    worker = build_worker(live_settings, database)
    while worker.run_once():
        pass

    assert wallet_balance(database, achieng) == 1_446_231  # KES 16,114 gross
    sent = httpx.get(f"{live_settings.base_url}/sandbox/sms", params={"to": ACHIENG}).json()
    (slip,) = [m["message"] for m in sent if "mshahara" in m["message"]]
    assert slip.startswith("PayTrace mshahara ") and " Net 14462. Ref " in slip
    reference = slip.rsplit(" ", 1)[1]
    today = nairobi_day(datetime.now(UTC)).strftime("%d/%m/%y")
    assert AtGateway(live_server.url, ACHIENG).walk("6", "8") == (
        f"END Mshahara wangu\n{today} Net 14,462 {reference}"
    )
    assert check_ledger(database).sound

    # Then Jane puts Achieng's pay on the 31st of every month, with the PIN.
    employer = AtGateway(live_server.url, JANE)
    employer.walk("6", "9", "1")
    assert employer.send("2").startswith("CON Pay Achieng on a schedule\n")
    assert employer.send("31").startswith("CON Pay Achieng KES 16,114 gross, Monthly, day 31")
    assert employer.send("4821").startswith("END Scheduled: Achieng's pay, Monthly, day 31, ")
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT kind, payee, day, channel, status FROM scheduled_payments")
        assert cur.fetchall() == [("wage", str(worker_id(database)), 31, "ussd", "active")]
        conn.rollback()
    listed = AtGateway(live_server.url, JANE).walk("6", "7")
    assert listed.startswith("CON Scheduled payments\n1. ") and "Achieng" in listed

    # Jane renames Achieng on the payslip with the PIN (PATCH worker's service).
    employer = AtGateway(live_server.url, JANE)
    assert employer.walk("6", "9", "1", "4").startswith("CON Achieng: deducted NSSF, SHIF, Hous")
    employer.send("1")
    assert employer.send("Achieng Odhiambo").startswith("CON Achieng from the next pay: ")
    assert employer.send("4821").startswith("END Changed: Achieng from the next pay: ")
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT display_name, deductions FROM employed_workers")
        assert cur.fetchall() == [("Achieng Odhiambo", ["nssf", "shif", "ahl"])]
        conn.rollback()


def worker_id(database) -> int:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT id FROM employed_workers")
        (found,) = cur.fetchone()
        conn.rollback()
    return found
