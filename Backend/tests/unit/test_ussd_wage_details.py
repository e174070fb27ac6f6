"""I employ someone over USSD, with fake services: choosing a worker's statutory items
when adding them (All, or each switched), and 4 Change name or deductions behind the
PIN, through the same services as REST's add and PATCH."""

from __future__ import annotations

from tests.unit.fakes import FakeUssdServices
from tests.unit.test_ussd_wage_terms import at_worker
from tests.unit.test_ussd_wages import MINIMUM_WAGE, at_account, household
from tests.unit.ussd_harness import PHONE

ALL = ("nssf", "shif", "ahl", "paye")


def only_worker(services: FakeUssdServices, name: str):
    (worker,) = [w for w in services._wages()["workers"].values() if w.display_name == name]
    return worker


def test_a_casual_worker_paid_daily_is_added_without_paye_and_is_paid_without_it():
    services = FakeUssdServices()
    jane = services.add_user(PHONE, "Jane Wanjiku", "4821")
    services.cash_in(PHONE, 10_000_000)
    phone = at_account(services)
    for answer in ("9", "0722000333", "Kiprop Mutai", "1,000", "3"):  # daily
        phone.send(answer)
    assert phone.send("2") == (
        "CON Deductions of Kiprop Mutai, pick to switch:\n1. NSSF: yes\n2. SHIF: yes\n"
        "3. Housing levy: yes\n4. PAYE: yes\n5. Done\n0. Back 00. Home"
    )
    assert phone.send("4") == (
        "CON Deductions of Kiprop Mutai, pick to switch:\n1. NSSF: yes\n2. SHIF: yes\n"
        "3. Housing levy: yes\n4. PAYE: no\n5. Done\n0. Back 00. Home"
    )
    assert phone.send("7").startswith("CON Invalid choice.\nDeductions of Kiprop Mutai")
    assert phone.send("5") == (
        "CON Add Kiprop Mutai +2547****0333: KES 1,000 a day gross. Deducted: NSSF, SHIF, "
        "Housing levy.\n1. Add\n0. Back 00. Home"
    )
    assert phone.send("1").startswith("END Kiprop Mutai added: KES 1,000 a day.")
    worker = only_worker(services, "Kiprop Mutai")
    assert (worker.employer_user_id, worker.deductions) == (jane.user_id, ("nssf", "shif", "ahl"))

    # What was chosen is what is deducted: the payslip has no PAYE line.
    payer = at_account(services)
    payer.send("9")
    payer.send("1")
    slip = payer.send("1")
    assert slip.startswith("CON Pay Kiprop Mutai net KES ") and "PAYE" not in slip
    assert "NSSF" in slip and "SHIF" in slip and "AHL" in slip


def test_in_kiswahili_an_employer_adds_a_worker_who_pays_nothing_statutory():
    services = FakeUssdServices()
    services.add_user(PHONE, "Jane Wanjiku", "4821", "sw")
    phone = at_account(services)
    for answer in ("9", "0722000333", "Kiprop", "500", "3"):
        phone.send(answer)
    assert phone.send("2") == (
        "CON Makato ya Kiprop, chagua kubadilisha:\n1. NSSF: ndiyo\n2. SHIF: ndiyo\n"
        "3. Ushuru wa nyumba: ndiyo\n4. PAYE: ndiyo\n5. Maliza\n0. Rudi 00. Mwanzo"
    )
    for item in ("1", "2", "3", "4", "4", "4"):  # PAYE on, then off again
        switched = phone.send(item)
    assert switched == (
        "CON Makato ya Kiprop, chagua kubadilisha:\n1. NSSF: hapana\n2. SHIF: hapana\n"
        "3. Ushuru wa nyumba: hapana\n4. PAYE: hapana\n5. Maliza\n0. Rudi 00. Mwanzo"
    )
    assert phone.send("5") == (
        "CON Ongeza Kiprop +2547****0333: KES 500 kwa siku kabla ya makato. Makato: hakuna."
        "\n1. Ongeza\n0. Rudi 00. Mwanzo"
    )
    assert phone.send("1").startswith("END Kiprop ameongezwa: KES 500 kwa siku.")
    assert only_worker(services, "Kiprop").deductions == ()


def test_going_back_to_all_deducts_every_item_again():
    services, _ = household()
    phone = at_account(services)
    for answer in ("9", "9", "0722000333", "Baraka", "20000", "1", "2", "4", "5"):
        phone.send(answer)
    phone.send("0")  # back to the switches
    phone.send("0")  # back to All or Choose
    assert phone.send("1").startswith(
        "CON Add Baraka +2547****0333: KES 20,000 a month gross. Deducted: NSSF, SHIF, "
        "Housing levy, PAYE."
    )
    phone.send("1")
    assert only_worker(services, "Baraka").deductions == ALL


def test_an_employer_renames_a_worker_with_the_pin():
    services, _ = household()
    phone, _ = at_worker(services)
    assert phone.send("4") == (
        "CON Achieng: deducted NSSF, SHIF, Housing levy, PAYE\n1. Change name\n"
        "2. Change deductions\n0. Back 00. Home"
    )
    assert phone.send("1") == (
        "CON New name of Achieng for the payslip (up to 30 letters)\n0. Back 00. Home"
    )
    assert phone.send("W" * 31).startswith("CON Use 1 to 30 plain letters.")
    assert phone.send(" Achieng Odhiambo ") == (
        "CON Achieng from the next pay: the payslip says Achieng Odhiambo.\n"
        "Enter PIN to confirm\n0. Back 00. Home"
    )
    assert phone.send("1111").startswith("CON Wrong PIN. 2 attempt(s) left.")
    assert only_worker(services, "Achieng").display_name == "Achieng"
    assert phone.send("4821") == (
        "END Changed: Achieng from the next pay: the payslip says Achieng Odhiambo."
    )
    worker = only_worker(services, "Achieng Odhiambo")
    assert (worker.gross_pay, worker.frequency, worker.deductions) == (
        MINIMUM_WAGE, "monthly", ALL)  # fmt: skip
    assert services.calls.count("edit_worker") == 2


def test_in_kiswahili_an_employer_stops_paye_for_a_worker_with_the_pin():
    services, _ = household("sw")
    phone, _ = at_worker(services)
    assert phone.send("4") == (
        "CON Achieng: makato NSSF, SHIF, Ushuru wa nyumba, PAYE\n1. Badilisha jina\n"
        "2. Badilisha makato\n0. Rudi 00. Mwanzo"
    )
    assert phone.send("2").startswith("CON Makato ya Achieng, chagua kubadilisha:\n1. NSSF: ndiyo")
    assert phone.send("4").endswith("4. PAYE: hapana\n5. Maliza\n0. Rudi 00. Mwanzo")
    assert phone.send("5") == (
        "CON Achieng kuanzia mshahara ujao: makato NSSF, SHIF, Ushuru wa nyumba.\n"
        "Weka PIN kuthibitisha\n0. Rudi 00. Mwanzo"
    )
    assert phone.send("4821") == (
        "END Imebadilishwa: Achieng kuanzia mshahara ujao: makato NSSF, SHIF, Ushuru wa nyumba."
    )
    worker = only_worker(services, "Achieng")
    assert (worker.gross_pay, worker.deductions) == (MINIMUM_WAGE, ("nssf", "shif", "ahl"))

    # The worker's menu now says what is deducted.
    again, _ = at_worker(services)
    assert again.send("4").startswith("CON Achieng: makato NSSF, SHIF, Ushuru wa nyumba\n")


def test_a_worker_removed_meanwhile_is_not_changed():
    services, _ = household()
    phone, _ = at_worker(services)
    for answer in ("4", "2", "1", "5"):
        phone.send(answer)
    services._wages()["workers"].clear()
    assert phone.send("4821") == (
        "END Achieng cannot be paid now. Check the worker in the PayTrace app."
    )
