"""The unit of work: `with uow:` is one PostgreSQL transaction.

It rolls back unless `commit()` is called, and gives the service layer its
repositories, the only place SQL lives.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Generic, TypeVar

import psycopg2
import psycopg2.extensions

from app.db.pool import Database
from app.db.repositories.admin_audit import AdminAuditRepository
from app.db.repositories.api_sessions import ApiSessionRepository
from app.db.repositories.bill_resolutions import BillResolutionRepository
from app.db.repositories.bills import BillerRepository, BillPaymentRepository
from app.db.repositories.callbacks import CallbackRepository
from app.db.repositories.campaigns import CampaignRepository
from app.db.repositories.console import ConsoleRepository
from app.db.repositories.console_promotions import ConsolePromotionsRepository
from app.db.repositories.console_rails import ConsoleRailsRepository
from app.db.repositories.console_wages import ConsoleWagesRepository
from app.db.repositories.contributions import ContributionRepository
from app.db.repositories.incoming import IncomingRepository
from app.db.repositories.invitations import InvitationRepository
from app.db.repositories.leases import LeaseRepository
from app.db.repositories.ledger import LedgerRepository
from app.db.repositories.lock_order import LockOrderRepository
from app.db.repositories.merchant_payments import MerchantPaymentRepository
from app.db.repositories.merchant_payouts import MerchantPayoutRepository
from app.db.repositories.merchant_refunds import MerchantRefundRepository
from app.db.repositories.merchants import MerchantKeyRepository, MerchantRepository
from app.db.repositories.metrics import MetricsRepository
from app.db.repositories.mpesa_deposits import DepositRepository
from app.db.repositories.mpesa_order_payments import OrderPaymentRepository
from app.db.repositories.mpesa_order_pushes import OrderPushRepository
from app.db.repositories.mpesa_reconciliation import MpesaReconciliationRepository
from app.db.repositories.mpesa_status_queries import StatusQueryRepository
from app.db.repositories.mpesa_withdrawals import WithdrawalRepository
from app.db.repositories.operators import OperatorRepository
from app.db.repositories.otps import OtpRepository
from app.db.repositories.outbox import OutboxRepository
from app.db.repositories.pay_orders import MerchantIdempotencyRepository, PayOrderRepository
from app.db.repositories.pay_requests import PayRequestRepository
from app.db.repositories.pins import PinRepository
from app.db.repositories.pledges import PledgeRepository
from app.db.repositories.promotions import PromotionRepository
from app.db.repositories.reconciliation import ReconciliationRepository
from app.db.repositories.schedules import ScheduleRepository
from app.db.repositories.settlements import SettlementRepository
from app.db.repositories.sms import SmsRepository
from app.db.repositories.stellar import StellarRepository
from app.db.repositories.users import UserRepository
from app.db.repositories.wage_rules import WageRuleRepository
from app.db.repositories.wages import WageRepository
from app.db.repositories.wallets import WalletRepository
from app.db.repositories.webhook_deliveries import WebhookDeliveryRepository
from app.db.repositories.webhooks import WebhookRepository
from app.errors import ServiceUnavailable
from app.infra.metrics import LEDGER_MOVEMENTS

_IDLE = psycopg2.extensions.TRANSACTION_STATUS_IDLE
R = TypeVar("R")


class _Repository(Generic[R]):
    """A unit of work's repository, built from its connection on first use inside
    `with uow:` and kept in the instance until the transaction's block ends (a
    non-data descriptor: the instance's attribute then answers without it)."""

    def __init__(self, build: Callable[..., R], *, counts_postings: bool = False) -> None:
        self._build = build
        self._counts_postings = counts_postings  # takes the ledger's `posted` too
        self._name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    def __get__(self, uow: Any, owner: type | None = None) -> R:
        if uow is None:
            return self  # type: ignore[return-value]  # the class's own attribute
        if uow.conn is None:
            raise AttributeError(f"uow.{self._name} outside `with uow:`")
        args = (uow.conn, uow.ledger.posted) if self._counts_postings else (uow.conn,)
        repository = self._build(*args)
        uow.__dict__[self._name] = repository
        uow._built.append(self._name)
        return repository


class UnitOfWork:
    """One transaction's repositories, each built on first use within `with uow:` (a
    transfer touches one or two of the ~45: building them all cost ~20 µs of the
    client's ~0.35 ms CPU per transfer, see docs/benchmarks.md)."""

    users = _Repository(UserRepository)
    wallets = _Repository(WalletRepository)
    pins = _Repository(PinRepository)
    outbox = _Repository(OutboxRepository)
    sms = _Repository(SmsRepository)
    ledger = _Repository(LedgerRepository)
    lock_order = _Repository(LockOrderRepository)
    metrics = _Repository(MetricsRepository)
    otps = _Repository(OtpRepository)
    invitations = _Repository(InvitationRepository)
    api_sessions = _Repository(ApiSessionRepository)
    stellar = _Repository(StellarRepository)
    incoming = _Repository(IncomingRepository)
    reconciliation = _Repository(ReconciliationRepository)
    settlements = _Repository(SettlementRepository)
    deposits = _Repository(DepositRepository)
    withdrawals = _Repository(WithdrawalRepository)
    mpesa_reconciliation = _Repository(MpesaReconciliationRepository)
    status_queries = _Repository(StatusQueryRepository)
    order_payments = _Repository(OrderPaymentRepository)
    order_pushes = _Repository(OrderPushRepository)
    callbacks = _Repository(CallbackRepository)
    campaigns = _Repository(CampaignRepository)
    contributions = _Repository(ContributionRepository, counts_postings=True)
    pledges = _Repository(PledgeRepository)
    admin_audit = _Repository(AdminAuditRepository)
    merchants = _Repository(MerchantRepository)
    merchant_keys = _Repository(MerchantKeyRepository)
    pay_orders = _Repository(PayOrderRepository)
    pay_requests = _Repository(PayRequestRepository)
    merchant_idempotency = _Repository(MerchantIdempotencyRepository)
    merchant_refunds = _Repository(MerchantRefundRepository)
    merchant_payouts = _Repository(MerchantPayoutRepository)
    merchant_payments = _Repository(MerchantPaymentRepository, counts_postings=True)
    webhooks = _Repository(WebhookRepository)
    webhook_deliveries = _Repository(WebhookDeliveryRepository)
    operators = _Repository(OperatorRepository)
    console = _Repository(ConsoleRepository)
    console_rails = _Repository(ConsoleRailsRepository)
    console_wages = _Repository(ConsoleWagesRepository)
    console_promotions = _Repository(ConsolePromotionsRepository)
    schedules = _Repository(ScheduleRepository)
    billers = _Repository(BillerRepository)
    bill_payments = _Repository(BillPaymentRepository)
    bill_resolutions = _Repository(BillResolutionRepository)
    leases = _Repository(LeaseRepository)
    wage_rules = _Repository(WageRuleRepository)
    wages = _Repository(WageRepository)
    promotions = _Repository(PromotionRepository)

    def __init__(self, database: Database) -> None:
        self._database = database
        self._cm = None
        self.conn: psycopg2.extensions.connection | None = None
        self._built: list[str] = []  # repositories built in this transaction's block

    def __enter__(self) -> UnitOfWork:
        self._cm = self._database.connection()
        self.conn = self._cm.__enter__()
        self._forget_repositories()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        assert self._cm is not None and self.conn is not None
        try:
            if not self.conn.closed:
                self.conn.rollback()
        except psycopg2.Error:
            pass
        finally:
            cm, self._cm, self.conn = self._cm, None, None
            self._forget_repositories()
        return cm.__exit__(exc_type, exc, tb)

    def _forget_repositories(self) -> None:
        """Drop the repositories bound to the connection just given back (or, on
        entering, to none): the next block builds its own on its connection."""
        for name in self._built:
            self.__dict__.pop(name, None)
        self._built.clear()

    def _take_posted(self) -> list[str]:
        """The movements posted since the last call, without building a ledger
        repository that was not used."""
        ledger = self.__dict__.get("ledger")
        return ledger.take_posted() if ledger is not None else []

    @contextmanager
    def statements_commit_themselves(self) -> Iterator[None]:
        """Inside, each statement is a transaction of its own (autocommit): for a
        movement checked and posted by one statement (ledger_transfer), whose locks then
        end at its COMMIT inside PostgreSQL instead of a round trip later. Only between
        transactions; a movement posted inside is counted as committed."""
        assert self.conn is not None, "statements_commit_themselves() outside `with uow:`"
        assert self.conn.info.transaction_status == _IDLE, "a transaction is open"
        self.conn.autocommit = True
        try:
            yield
        finally:
            if not self.conn.closed:
                self.conn.autocommit = False
            for kind in self._take_posted():
                LEDGER_MOVEMENTS.labels(kind).inc()

    def commit(self) -> None:
        assert self.conn is not None, "commit() outside `with uow:`"
        try:
            self.conn.commit()
        except psycopg2.OperationalError as exc:
            raise ServiceUnavailable("database unavailable") from exc
        # Counted once committed: a rolled-back movement never happened.
        for kind in self._take_posted():
            LEDGER_MOVEMENTS.labels(kind).inc()

    def rollback(self) -> None:
        assert self.conn is not None
        self.conn.rollback()
        self._take_posted()  # undone: not counted
