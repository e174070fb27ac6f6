"""The unit of work: `with uow:` is one PostgreSQL transaction.

It rolls back unless `commit()` is called, and gives the service layer its
repositories, the only place SQL lives.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

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


class UnitOfWork:
    users: UserRepository
    wallets: WalletRepository
    pins: PinRepository
    outbox: OutboxRepository
    sms: SmsRepository
    ledger: LedgerRepository
    metrics: MetricsRepository
    otps: OtpRepository
    invitations: InvitationRepository
    api_sessions: ApiSessionRepository
    stellar: StellarRepository
    incoming: IncomingRepository
    reconciliation: ReconciliationRepository
    settlements: SettlementRepository
    deposits: DepositRepository
    withdrawals: WithdrawalRepository
    status_queries: StatusQueryRepository
    order_payments: OrderPaymentRepository
    order_pushes: OrderPushRepository
    callbacks: CallbackRepository
    campaigns: CampaignRepository
    contributions: ContributionRepository
    pledges: PledgeRepository
    admin_audit: AdminAuditRepository
    merchants: MerchantRepository
    merchant_keys: MerchantKeyRepository
    pay_orders: PayOrderRepository
    pay_requests: PayRequestRepository
    merchant_idempotency: MerchantIdempotencyRepository
    merchant_refunds: MerchantRefundRepository
    merchant_payouts: MerchantPayoutRepository
    webhooks: WebhookRepository
    webhook_deliveries: WebhookDeliveryRepository
    operators: OperatorRepository
    console: ConsoleRepository
    console_rails: ConsoleRailsRepository
    console_wages: ConsoleWagesRepository
    console_promotions: ConsolePromotionsRepository
    schedules: ScheduleRepository
    billers: BillerRepository
    bill_payments: BillPaymentRepository
    bill_resolutions: BillResolutionRepository
    leases: LeaseRepository
    wage_rules: WageRuleRepository
    wages: WageRepository
    promotions: PromotionRepository

    def __init__(self, database: Database) -> None:
        self._database = database
        self._cm = None
        self.conn: psycopg2.extensions.connection | None = None

    def __enter__(self) -> UnitOfWork:
        self._cm = self._database.connection()
        self.conn = self._cm.__enter__()
        self.users = UserRepository(self.conn)
        self.wallets = WalletRepository(self.conn)
        self.pins = PinRepository(self.conn)
        self.outbox = OutboxRepository(self.conn)
        self.sms = SmsRepository(self.conn)
        self.ledger = LedgerRepository(self.conn)
        self.metrics = MetricsRepository(self.conn)
        self.otps = OtpRepository(self.conn)
        self.invitations = InvitationRepository(self.conn)
        self.api_sessions = ApiSessionRepository(self.conn)
        self.stellar = StellarRepository(self.conn)
        self.incoming = IncomingRepository(self.conn)
        self.reconciliation = ReconciliationRepository(self.conn)
        self.settlements = SettlementRepository(self.conn)
        self.deposits = DepositRepository(self.conn)
        self.withdrawals = WithdrawalRepository(self.conn)
        self.mpesa_reconciliation = MpesaReconciliationRepository(self.conn)
        self.status_queries = StatusQueryRepository(self.conn)
        self.order_payments = OrderPaymentRepository(self.conn)
        self.order_pushes = OrderPushRepository(self.conn)
        self.callbacks = CallbackRepository(self.conn)
        self.campaigns = CampaignRepository(self.conn)
        self.contributions = ContributionRepository(self.conn, self.ledger.posted)
        self.pledges = PledgeRepository(self.conn)
        self.admin_audit = AdminAuditRepository(self.conn)
        self.merchants = MerchantRepository(self.conn)
        self.merchant_keys = MerchantKeyRepository(self.conn)
        self.pay_orders = PayOrderRepository(self.conn)
        self.pay_requests = PayRequestRepository(self.conn)
        self.merchant_idempotency = MerchantIdempotencyRepository(self.conn)
        self.merchant_refunds = MerchantRefundRepository(self.conn)
        self.merchant_payouts = MerchantPayoutRepository(self.conn)
        self.webhooks = WebhookRepository(self.conn)
        self.webhook_deliveries = WebhookDeliveryRepository(self.conn)
        self.operators = OperatorRepository(self.conn)
        self.console = ConsoleRepository(self.conn)
        self.console_rails = ConsoleRailsRepository(self.conn)
        self.console_wages = ConsoleWagesRepository(self.conn)
        self.console_promotions = ConsolePromotionsRepository(self.conn)
        self.schedules = ScheduleRepository(self.conn)
        self.billers = BillerRepository(self.conn)
        self.bill_payments = BillPaymentRepository(self.conn)
        self.bill_resolutions = BillResolutionRepository(self.conn)
        self.leases = LeaseRepository(self.conn)
        self.wage_rules = WageRuleRepository(self.conn)
        self.wages = WageRepository(self.conn)
        self.promotions = PromotionRepository(self.conn)
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
        return cm.__exit__(exc_type, exc, tb)

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
            for kind in self.ledger.take_posted():
                LEDGER_MOVEMENTS.labels(kind).inc()

    def commit(self) -> None:
        assert self.conn is not None, "commit() outside `with uow:`"
        try:
            self.conn.commit()
        except psycopg2.OperationalError as exc:
            raise ServiceUnavailable("database unavailable") from exc
        # Counted once committed: a rolled-back movement never happened.
        for kind in self.ledger.take_posted():
            LEDGER_MOVEMENTS.labels(kind).inc()

    def rollback(self) -> None:
        assert self.conn is not None
        self.conn.rollback()
        self.ledger.take_posted()  # undone: not counted
