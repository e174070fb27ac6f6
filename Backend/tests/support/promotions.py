"""Cashback and referral helpers for tests: bills held and delivered as the rail's
answer would end them, the promotions account funded, rules made through the services."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from app.config import Settings
from app.db.pool import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.promotions import PROMOTIONS, CashbackTier
from app.services.bills import endings
from app.services.bills.payments import BillRequest, pay_bill
from app.services.pins import PinHasher, PinPolicy
from app.services.promotions import budget
from tests.support.bills import rows

PIN = "4821"
AIRTIME = "airtime_safaricom"


def hold_bill(settings: Settings, database: Database, user_id: int, phone: str, amount: int) -> str:
    """An airtime bill for `phone`, held; its reference."""
    held = pay_bill(
        UnitOfWork(database),
        PinHasher.from_settings(settings),
        PinPolicy.from_settings(settings),
        BillRequest(user_id, AIRTIME, phone, amount, uuid.uuid4().hex),
        pin=PIN,
    )
    return held.payment.reference


def deliver(database: Database, reference: str, now: datetime | None = None) -> None:
    """End the bill delivered, as the rail's confirmed answer does (its row locked)."""
    with UnitOfWork(database) as uow:
        p = uow.bill_payments.get(reference, for_update=True)
        assert p is not None and p.status == "held"
        endings.deliver(
            uow, p, request_id=f"ATQid_{reference}", receipt="R1", now=now or datetime.now(UTC)
        )
        uow.commit()


def release(database: Database, reference: str) -> None:
    with UnitOfWork(database) as uow:
        p = uow.bill_payments.get(reference, for_update=True)
        assert p is not None
        endings.release(uow, p, failure="refused", now=datetime.now(UTC))
        uow.commit()


def fund_promotions(database: Database, amount: int) -> None:
    budget.fund_promotions(UnitOfWork(database), amount=amount, reference=uuid.uuid4().hex)


def promotions_balance(database: Database) -> int:
    [(balance,)] = rows(
        database, "SELECT balance FROM ledger_accounts WHERE code = %(c)s", {"c": PROMOTIONS}
    )
    return int(balance)


def airtime_rule(
    database: Database,
    *,
    rate_bp: int,
    cap: int,
    valid_from: date = date(2020, 1, 1),
    valid_until: date | None = None,
    biller_code: str | None = AIRTIME,
    category: str | None = None,
    tiers: tuple[CashbackTier, ...] | None = None,
) -> int:
    return budget.add_cashback_rule(
        UnitOfWork(database),
        name="test rule",
        monthly_cap=cap,
        tiers=tiers or (CashbackTier(1, 10**9, rate_bp),),
        valid_from=valid_from,
        valid_until=valid_until,
        biller_code=biller_code if category is None else None,
        category=category,
    )


def awards(database: Database, user_id: int) -> list[int]:
    return [
        int(a)
        for (a,) in rows(
            database,
            "SELECT amount FROM cashback_awards WHERE user_id = %(u)s ORDER BY id",
            {"u": user_id},
        )
    ]
