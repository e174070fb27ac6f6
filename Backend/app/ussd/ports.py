"""What the USSD menus need from the rest of PayTrace, as one async port.

The menus never touch SQL, Redis or HTTP clients: they call these. In production the
port is `app.services.facade.ChannelServices`, the facade the REST API calls too; the
menus' unit tests use `FakeUssdServices` (tests/unit/fakes.py), held to the same
contract as the facade by tests/integration/test_ussd_port_contract.py.

Every type here is a service's own: the menus render them, never copy them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Protocol

from app.domain.bills import Biller
from app.domain.records.harambee import CampaignFilter, CampaignRow, PledgeFilter, PledgeRow
from app.domain.records.ledger import StatementLine
from app.domain.records.pay_requests import PendingPayRequest
from app.domain.records.schedules import Schedule
from app.domain.records.wages import EmployedWorker, PayRunLine
from app.errors import PinLocked
from app.services.accounts import Profile
from app.services.bills.catalogue import AccountCheck, BillQuote
from app.services.bills.payments import BillHeld, BillRequest
from app.services.harambee.campaigns import Started
from app.services.harambee.closing import Cancelled, Closed
from app.services.harambee.contributions import Contribution, ContributionRequest
from app.services.harambee.pledges import Pledged
from app.services.ledger import Movement
from app.services.merchant_payments.payments import MerchantPayment, MerchantPaymentRequest
from app.services.merchant_payments.tills import Payee, PaymentQuote
from app.services.mpesa.deposits import DepositRequest, Requested
from app.services.mpesa.withdrawals import Held, WithdrawalRequest
from app.services.registration import NewUser
from app.services.schedules.manage import Created, NewSchedule
from app.services.schedules.wages import NewWageSchedule
from app.services.transfers import Quote, Recipient, TransferRequest
from app.services.wages.pay_runs import RunShown


class UssdServices(Protocol):
    # ---- who is calling
    async def profile(self, phone: str) -> Profile | None: ...
    async def hash_pin(self, pin: str) -> str: ...
    async def pin_matches(self, pin_hash: str, pin: str) -> bool: ...
    async def register(self, new: NewUser) -> Profile: ...
    async def verify_pin(self, *, user_id: int, pin: str, attempt_key: str) -> None: ...
    async def set_pin(self, *, user_id: int, pin_hash: str, key: str) -> None: ...
    async def set_language(self, *, user_id: int, language: str) -> Profile: ...
    def validate_name(self, raw: str) -> str: ...
    async def wallet_status(self, *, user_id: int) -> str: ...
    async def pin_lock(self, *, user_id: int) -> PinLocked | None: ...

    # ---- Send money
    async def find_recipient(self, *, sender_user_id: int, phone: str) -> Recipient: ...
    async def invite(self, *, sender_user_id: int, phone: str) -> bool: ...
    async def quote_transfer(self, *, sender_user_id: int, amount: int) -> Quote: ...
    async def send_money(
        self, request: TransferRequest, *, pin: str, attempt_key: str | None = None
    ) -> Movement: ...

    # ---- Pay a merchant
    async def find_merchant(self, *, till: str) -> Payee: ...
    async def quote_merchant_payment(
        self,
        *,
        payer_user_id: int,
        till: str | None = None,
        amount: int | None = None,
        order_code: str | None = None,
    ) -> PaymentQuote: ...
    async def pay_merchant(
        self, request: MerchantPaymentRequest, *, pin: str, attempt_key: str | None = None
    ) -> MerchantPayment: ...

    # ---- Pay: bills and airtime
    async def airtime_biller(self, *, phone: str) -> AccountCheck: ...
    async def payable_billers(self) -> list[Biller]: ...
    async def validate_bill_account(self, *, biller_code: str, account: str) -> AccountCheck: ...
    async def resend_tokens(self, *, user_id: int, key: str) -> int: ...
    async def quote_bill(
        self, *, user_id: int, biller_code: str, account: str, amount: int
    ) -> BillQuote: ...
    async def pay_bill(
        self, request: BillRequest, *, pin: str, attempt_key: str | None = None
    ) -> BillHeld: ...

    # ---- a merchant's request to pay (the first screen of a dial)
    async def pending_pay_request(self, *, payer_user_id: int) -> PendingPayRequest | None: ...
    async def decline_pay_request(self, *, payer_user_id: int, request_id: int) -> None: ...

    # ---- M-Pesa
    async def request_deposit(self, request: DepositRequest) -> Requested: ...
    async def quote_withdrawal(self, *, user_id: int, amount: int) -> Quote: ...
    async def withdraw(
        self, request: WithdrawalRequest, *, pin: str, attempt_key: str | None = None
    ) -> Held: ...

    # ---- the wallet
    async def balance(self, *, user_id: int, pin: str, attempt_key: str) -> int: ...
    async def mini_statement(
        self, *, user_id: int, pin: str, attempt_key: str
    ) -> list[StatementLine]: ...

    # ---- scheduled payments
    async def schedules(
        self, *, owner_user_id: int, limit: int, before_id: int | None = None
    ) -> tuple[list[Schedule], bool]: ...
    async def change_schedule(
        self, *, owner_user_id: int, schedule_id: int, change: str, pin: str, attempt_key: str
    ) -> Schedule: ...
    async def schedule_transfer(
        self, new: NewSchedule, *, pin: str, attempt_key: str
    ) -> Created: ...
    async def repeat_payment(self, new: NewSchedule, *, paid_key: str) -> Created: ...

    # ---- wages
    async def wage_workers(self, *, employer_user_id: int) -> list[EmployedWorker]: ...
    async def draft_pay(
        self, *, employer_user_id: int, worker_id: int, pay_date: date, key: str
    ) -> RunShown: ...
    async def approve_pay(
        self, *, employer_user_id: int, run_id: int, pin: str, attempt_key: str
    ) -> RunShown: ...
    async def my_pay(self, *, user_id: int) -> list[tuple[PayRunLine, date]]: ...
    async def employ_worker(
        self,
        *,
        employer_user_id: int,
        phone: str,
        display_name: str,
        gross_pay: int,
        frequency: str,
        deductions: list[str],
    ) -> tuple[EmployedWorker, str | None]: ...
    async def next_pay(self, *, user_id: int) -> list[tuple[str, datetime]]: ...
    async def schedule_wage(
        self, new: NewWageSchedule, *, pin: str, attempt_key: str
    ) -> Created: ...
    async def edit_worker(
        self,
        *,
        employer_user_id: int,
        worker_id: int,
        pin: str,
        attempt_key: str,
        display_name: str | None = None,
        gross_pay: int | None = None,
        frequency: str | None = None,
        deductions: list[str] | None = None,
    ) -> EmployedWorker: ...

    # ---- Harambee
    async def campaigns(
        self, *, where: CampaignFilter, limit: int
    ) -> tuple[list[CampaignRow], bool]: ...
    async def campaign_by_code(self, *, code: str) -> CampaignRow: ...
    async def contribute(
        self, request: ContributionRequest, *, pin: str, attempt_key: str | None = None
    ) -> Contribution: ...
    async def pledges(self, *, where: PledgeFilter, limit: int) -> tuple[list[PledgeRow], bool]: ...
    async def pay_pledge(
        self,
        *,
        user_id: int,
        pledge_id: int,
        amount: int | None,
        key: str,
        channel: str,
        pin: str,
        attempt_key: str | None = None,
    ) -> tuple[Contribution, PledgeRow]: ...
    async def pledge_with_pin(
        self,
        *,
        user_id: int,
        campaign_id: int,
        amount: int,
        due_date: date,
        anonymous: bool,
        pin: str,
        key: str,
        channel: str,
    ) -> Pledged: ...
    async def start_campaign_with_pin(
        self,
        *,
        user_id: int,
        title: str,
        target: int,
        end_date: date | None,
        pin: str,
        key: str,
        channel: str,
    ) -> Started: ...
    async def close_campaign_with_pin(
        self, *, user_id: int, campaign_id: int, pin: str, key: str, channel: str
    ) -> Closed: ...
    async def cancel_campaign_with_pin(
        self, *, user_id: int, campaign_id: int, pin: str, key: str, channel: str
    ) -> Cancelled: ...
