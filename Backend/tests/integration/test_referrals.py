"""Referral bonuses over PostgreSQL: whoever first invited a number is paid the
programme's bonus from the promotions account when the new user's first deposit is
credited, once per new user, while the budget lasts; a deposit is credited whether or
not a bonus is paid; the ledger stays sound."""

from __future__ import annotations

import uuid
from datetime import date

from app.db.unit_of_work import UnitOfWork
from app.integrations.daraja_payloads import StkOutcome
from app.services import invitations
from app.services.mpesa import deposits, stk_results
from app.services.promotions import budget
from tests.integration.test_ledger_concurrency import run_together
from tests.support.bills import rows
from tests.support.promotions import fund_promotions, promotions_balance
from tests.support.wallets import (
    check_ledger,
    phone_of,
    register,
    registration_secrets,
    wallet_balance,
)

KES = 100
BONUS = 50 * KES


def deposit(database, user_id: int, amount: int = 500 * KES) -> None:
    """A deposit credited, as M-Pesa's confirmed answer does it."""
    asked = deposits.request_deposit(
        UnitOfWork(database),
        deposits.DepositRequest(user_id, amount, uuid.uuid4().hex, "api"),
        query_after_s=60,
    ).deposit
    checkout = f"ws_CO_{asked.reference}"
    with UnitOfWork(database) as uow:
        deposits.push_accepted(
            uow,
            asked.reference,
            merchant_request_id="m",
            checkout_request_id=checkout,
            query_after_s=60,
        )
        uow.commit()
    paid = StkOutcome(checkout, "m", "0", "paid", source="query")
    assert stk_results.settle(UnitOfWork(database), paid) == "credited"


def invite(database, sender: int, phone: str) -> None:
    assert invitations.invite(
        UnitOfWork(database), sender_user_id=sender, phone=phone, shortcode="*384#", daily_limit=50
    )


def program(database, budget_kes: int) -> int:
    return budget.open_referral_program(
        UnitOfWork(database), bonus=BONUS, budget=budget_kes * KES, valid_from=date(2020, 1, 1)
    )


def outcomes(database) -> dict[str, str | None]:
    return dict(rows(database, "SELECT invitee_phone, outcome FROM referrals"))


def people(settings, database, count: int) -> list[int]:
    box, pin_hash = registration_secrets(settings)
    return [register(database, box, pin_hash, phone=phone_of(n)) for n in range(1, count + 1)]


def test_the_first_inviter_earns_the_bonus_once_at_the_first_deposit(settings, clean_database):
    db = clean_database
    box, pin_hash = registration_secrets(settings)
    amina, cheptoo = (register(db, box, pin_hash, phone=phone_of(n)) for n in (1, 3))
    fund_promotions(db, 1_000 * KES)
    program(db, 1_000)
    invite(db, amina, phone_of(2))
    invite(db, cheptoo, phone_of(2))  # a later invitation names no one
    baraka = register(db, box, pin_hash, phone=phone_of(2))
    assert wallet_balance(db, amina) == 0  # registering alone earns nothing

    deposit(db, baraka)
    deposit(db, baraka)
    assert wallet_balance(db, amina) == BONUS and wallet_balance(db, cheptoo) == 0
    assert wallet_balance(db, baraka) == 1_000 * KES
    assert outcomes(db) == {phone_of(2): "paid"}
    assert promotions_balance(db) == 1_000 * KES - BONUS and check_ledger(db).sound


def test_a_spent_budget_stops_the_bonus_and_the_deposit_is_credited_all_the_same(
    settings, clean_database
):
    db = clean_database
    [amina] = people(settings, db, 1)
    fund_promotions(db, 1_000 * KES)
    program(db, 50)  # one bonus
    for n in (2, 3):
        invite(db, amina, phone_of(n))
    box, pin_hash = registration_secrets(settings)
    baraka, cheptoo = (register(db, box, pin_hash, phone=phone_of(n)) for n in (2, 3))
    deposit(db, baraka)
    deposit(db, cheptoo)
    assert wallet_balance(db, amina) == BONUS and wallet_balance(db, cheptoo) == 500 * KES
    assert outcomes(db) == {phone_of(2): "paid", phone_of(3): "budget_spent"}
    assert check_ledger(db).sound


def test_without_a_programme_or_funds_nothing_is_paid_and_it_is_decided_once(
    settings, clean_database
):
    db = clean_database
    [amina] = people(settings, db, 1)
    invite(db, amina, phone_of(2))
    invite(db, amina, phone_of(3))
    box, pin_hash = registration_secrets(settings)
    baraka, cheptoo = (register(db, box, pin_hash, phone=phone_of(n)) for n in (2, 3))
    deposit(db, baraka)  # no programme yet
    program(db, 1_000)
    deposit(db, cheptoo)  # a programme, but nothing in the promotions account
    fund_promotions(db, 1_000 * KES)
    deposit(db, baraka)
    deposit(db, cheptoo)  # later deposits are not first deposits
    assert outcomes(db) == {phone_of(2): "no_programme", phone_of(3): "promotions_empty"}
    assert wallet_balance(db, amina) == 0 and check_ledger(db).sound


def test_concurrent_first_deposits_never_pass_the_budget(settings, clean_database, crowd):
    db = clean_database
    [amina] = people(settings, db, 1)
    fund_promotions(db, 10_000 * KES)
    program(db, 150)  # three bonuses
    box, pin_hash = registration_secrets(settings)
    invited = []
    for n in range(2, 10):
        invite(db, amina, phone_of(n))
        invited.append(register(db, box, pin_hash, phone=phone_of(n)))
    results = run_together([lambda u=u: deposit(crowd, u) for u in invited])
    assert all(r is None for r in results), results
    decided = list(outcomes(crowd).values())
    assert decided.count("paid") == 3 and decided.count("budget_spent") == len(invited) - 3
    assert wallet_balance(crowd, amina) == 3 * BONUS
    [(spent, budget_cents)] = rows(crowd, "SELECT spent, budget FROM referral_programs")
    assert spent == budget_cents == 150 * KES and check_ledger(crowd).sound
