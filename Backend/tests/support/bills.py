"""A bills rig: Jane with a funded wallet, the live app (its AT Airtime sandbox and
status callback), an outbox worker sending top-ups through the real SDK and SMS to a
fake AT, and the bill checker."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from app.config import Settings
from app.db.pool import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.records.bills import BillPayment
from app.integrations.airtime import AfricasTalkingAirtime
from app.integrations.sms import SANDBOX_API_KEY, FakeSms
from app.services.bills.payments import BillHeld, BillRequest, pay_bill
from app.services.pins import PinHasher, PinPolicy
from app.worker.bill_handlers import AirtimeHandler
from app.worker.bills import BillChecker
from app.worker.handlers import HandlerRegistry, SmsHandler
from app.worker.outbox import OutboxWorker
from tests.support.wallets import fund, phone_of, register, registration_secrets

T = TypeVar("T")
KES = 100
PIN = "4821"
JANE = phone_of(1)
# A send's read timeout shorter than the sandbox's slow answer (...0408 takes 6 s), and
# long enough that the sandbox's prompt answers never miss it beside a busy suite (1.5 s
# did once: a refusal read as unknown).
SEND_TIMEOUT_S = 4.0


@dataclass
class BillsRig:
    settings: Settings
    database: Database
    user_id: int
    sms: FakeSms
    worker: OutboxWorker
    checker: BillChecker

    def pay(
        self, biller: str, account: str, amount: int, key: str | None = None, pin: str = PIN
    ) -> BillHeld:
        return pay_bill(
            UnitOfWork(self.database),
            PinHasher.from_settings(self.settings),
            PinPolicy.from_settings(self.settings),
            BillRequest(self.user_id, biller, account, amount, key or uuid.uuid4().hex),
            pin=pin,
        )

    def payment(self, reference: str) -> BillPayment:
        with UnitOfWork(self.database) as uow:
            found = uow.bill_payments.get(reference)
        assert found is not None
        return found

    def send_all(self) -> None:
        """Let the worker perform every due outbox row (top-ups and SMS)."""
        while self.worker.run_once():
            pass


def bills_rig(settings: Settings, database: Database, balance: int = 2_000 * KES) -> BillsRig:
    box, pin_hash = registration_secrets(settings, PIN)
    user_id = register(database, box, pin_hash, phone=JANE, name="Jane Wanjiku")
    fund(database, JANE, balance)
    airtime = AfricasTalkingAirtime(
        username=settings.at_username,
        api_key=SANDBOX_API_KEY,
        base_url=settings.at_base_url,
        timeout_s=SEND_TIMEOUT_S,
    )
    sms = FakeSms()
    handlers = HandlerRegistry(SmsHandler(sms), AirtimeHandler(airtime, check_after_s=0.0))
    worker = OutboxWorker(database, handlers, backoff=lambda n: 0.0)
    return BillsRig(
        settings, database, user_id, sms, worker, BillChecker(database, airtime, recheck_s=0.0)
    )


def until(check: Callable[[], T], timeout_s: float = 30.0) -> T:
    """check()'s first truthy value, polled; fails after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("not reached in time")
        time.sleep(0.05)


def rows(database: Database, sql: str, params: dict | None = None) -> list[tuple]:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(sql, params or {})
        found = cur.fetchall()
        conn.rollback()
    return found


def balances(database: Database) -> dict[str, int]:
    """Wallets as 'wallet', system accounts by the part of their code before ':'."""
    found = rows(
        database,
        "SELECT coalesce(split_part(code, ':', 1), 'wallet'), sum(balance)"
        " FROM ledger_accounts GROUP BY 1",
    )
    return {name: int(total) for name, total in found}


def journal_kinds(database: Database, kind_prefix: str = "bill") -> list[str]:
    return [
        kind
        for (kind,) in rows(
            database,
            "SELECT kind FROM journal_transactions WHERE kind LIKE %(p)s ORDER BY id",
            {"p": kind_prefix + "%"},
        )
    ]
