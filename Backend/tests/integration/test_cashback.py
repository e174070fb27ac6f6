"""Cashback over PostgreSQL: quoted, then paid from the funded promotions account in the
transaction that delivers the bill (never while held, never for a failed bill), within
the rule's monthly cap even when a user's bills are delivered at once, never more than
the promotions account holds; the ledger stays sound."""

from __future__ import annotations

from datetime import UTC, date, datetime

from app.db.unit_of_work import UnitOfWork
from app.domain.promotions import CashbackTier
from app.services.bills.catalogue import quote_bill
from tests.integration.test_ledger_concurrency import run_together
from tests.support.bills import journal_kinds, rows
from tests.support.promotions import (
    AIRTIME,
    airtime_rule,
    awards,
    deliver,
    fund_promotions,
    hold_bill,
    promotions_balance,
    release,
)
from tests.support.wallets import (
    check_ledger,
    fund,
    phone_of,
    register,
    registration_secrets,
    wallet_balance,
)

KES = 100


def jane(settings, database, balance: int = 10_000 * KES, n: int = 1) -> int:
    box, pin_hash = registration_secrets(settings)
    user_id = register(database, box, pin_hash, phone=phone_of(n), name="Jane Wanjiku")
    fund(database, phone_of(n), balance)
    return user_id


def quote(database, user_id: int, amount: int, now: datetime | None = None) -> int:
    return quote_bill(
        UnitOfWork(database),
        user_id=user_id,
        biller_code=AIRTIME,
        account=phone_of(1),
        amount=amount,
        now=now,
    ).cashback


def test_a_delivered_bill_earns_its_cashback_in_the_same_transaction(settings, clean_database):
    db = clean_database
    user = jane(settings, db)
    airtime_rule(db, rate_bp=100, cap=50 * KES)
    assert quote(db, user, 1_000 * KES) == 0  # nothing funded: nothing promised
    fund_promotions(db, 1_000 * KES)
    assert quote(db, user, 1_000 * KES) == 10 * KES

    reference = hold_bill(settings, db, user, phone_of(1), 1_000 * KES)
    assert awards(db, user) == [] and journal_kinds(db, "cashback") == []  # never on hold
    deliver(db, reference)
    assert awards(db, user) == [10 * KES]
    assert wallet_balance(db, user) == 10_000 * KES - 1_000 * KES + 10 * KES
    assert promotions_balance(db) == 990 * KES
    [(payment_tx, cashback_tx)] = rows(
        db,
        "SELECT p.outcome_id, a.transaction_id FROM bill_payments p"
        " JOIN cashback_awards a ON a.bill_payment_id = p.id",
    )
    # One database transaction: both journal rows carry its xmin.
    [(same,)] = rows(
        db,
        "SELECT count(DISTINCT xmin::text) FROM journal_transactions WHERE id IN (%(a)s, %(b)s)",
        {"a": payment_tx, "b": cashback_tx},
    )
    assert same == 1 and check_ledger(db).sound


def test_a_failed_bill_earns_nothing(settings, clean_database):
    db = clean_database
    user = jane(settings, db)
    airtime_rule(db, rate_bp=100, cap=50 * KES)
    fund_promotions(db, 1_000 * KES)
    release(db, hold_bill(settings, db, user, phone_of(1), 1_000 * KES))
    assert awards(db, user) == [] and promotions_balance(db) == 1_000 * KES
    assert wallet_balance(db, user) == 10_000 * KES and check_ledger(db).sound


def test_the_monthly_cap_counts_the_user_s_month_and_a_new_month_starts_afresh(
    settings, clean_database
):
    db = clean_database
    user = jane(settings, db)
    airtime_rule(db, rate_bp=200, cap=30 * KES)
    fund_promotions(db, 1_000 * KES)
    march, april = datetime(2026, 3, 31, 12, tzinfo=UTC), datetime(2026, 4, 1, 6, tzinfo=UTC)
    for _ in range(3):  # 20 + 10 (the cap) + 0
        deliver(db, hold_bill(settings, db, user, phone_of(1), 1_000 * KES), now=march)
    assert awards(db, user) == [20 * KES, 10 * KES]
    assert quote(db, user, 1_000 * KES, now=march) == 0
    deliver(db, hold_bill(settings, db, user, phone_of(1), 1_000 * KES), now=april)
    assert awards(db, user) == [20 * KES, 10 * KES, 20 * KES] and check_ledger(db).sound


def test_a_biller_s_own_rule_wins_over_its_category_and_rules_keep_their_dates(
    settings, clean_database
):
    db = clean_database
    user = jane(settings, db)
    fund_promotions(db, 1_000 * KES)
    airtime_rule(db, rate_bp=500, cap=1_000 * KES, biller_code=None, category="airtime")
    assert quote(db, user, 100 * KES) == 5 * KES
    airtime_rule(db, rate_bp=100, cap=1_000 * KES, valid_until=date(2026, 3, 31))
    march, april = datetime(2026, 3, 14, tzinfo=UTC), datetime(2026, 4, 14, tzinfo=UTC)
    assert quote(db, user, 100 * KES, now=march) == 1 * KES
    assert quote(db, user, 100 * KES, now=april) == 5 * KES


def test_amount_tiers_give_each_amount_its_rate(settings, clean_database):
    db = clean_database
    user = jane(settings, db)
    fund_promotions(db, 1_000 * KES)
    tiers = (CashbackTier(1, 499 * KES, 0 + 50), CashbackTier(500 * KES, 10**9, 300))
    airtime_rule(db, rate_bp=0, cap=1_000 * KES, tiers=tiers)
    assert quote(db, user, 100 * KES) == 50  # 0.5 % of KES 100: 50 cents
    assert quote(db, user, 500 * KES) == 15 * KES


def test_concurrent_bills_of_one_user_never_pass_the_monthly_cap(settings, clean_database, crowd):
    user = jane(settings, clean_database, balance=50_000 * KES)
    airtime_rule(clean_database, rate_bp=100, cap=35 * KES)
    fund_promotions(clean_database, 10_000 * KES)
    held = [hold_bill(settings, crowd, user, phone_of(1), 1_000 * KES) for _ in range(12)]
    outcomes = run_together([lambda r=r: deliver(crowd, r) for r in held])
    assert all(o is None for o in outcomes), outcomes
    assert sum(awards(crowd, user)) == 35 * KES  # 10 + 10 + 10 + 5, then nothing
    assert promotions_balance(crowd) == 10_000 * KES - 35 * KES
    assert check_ledger(crowd).sound


def test_concurrent_bills_never_take_the_promotions_account_below_zero(
    settings, clean_database, crowd
):
    users = [jane(settings, clean_database, n=n) for n in range(1, 9)]
    airtime_rule(clean_database, rate_bp=100, cap=100 * KES)
    fund_promotions(clean_database, 25 * KES)  # two and a half cashbacks of KES 10
    held = [hold_bill(settings, crowd, u, phone_of(n), 1_000 * KES) for n, u in enumerate(users, 1)]
    outcomes = run_together([lambda r=r: deliver(crowd, r) for r in held])
    assert all(o is None for o in outcomes), outcomes
    paid = [a for u in users for a in awards(crowd, u)]
    assert paid == [10 * KES, 10 * KES] and promotions_balance(crowd) == 5 * KES
    [(delivered,)] = rows(crowd, "SELECT count(*) FROM bill_payments WHERE status = 'delivered'")
    assert delivered == len(users)  # every bill delivered, paid cashback or not
    assert check_ledger(crowd).sound
