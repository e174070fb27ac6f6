"""PayTrace's services as both channels call them: one async facade.

The services are synchronous (psycopg2 and argon2 block), the channels are async.
Every channel call goes through `ChannelServices`: `run` hands a service function a
fresh unit of work in the thread pool, and every call that checks or hashes a PIN
takes its turn under one semaphore per process, USSD and REST alike, on the PIN
pool's threads (one per core, below the event loop's priority: app/infra/pin_pool.py),
so argon2 uses every core and never makes a navigation hop wait.

The methods take the services' own request types and return their own result types
(`TransferRequest` → `Movement`, `Profile`, `Quote`...): a channel renders those, it
never copies them. Adding a field to a request touches the service and the line in
each channel that builds the request; nothing here.

USSD's port (`app.ussd.ports.UssdServices`) is the subset of these methods the menus
call, which its unit-test fake also implements.

Long (over 300 lines) because it is the one list of what a channel may call, each
with the refusals it raises: a channel reads it, not the services behind it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Concatenate, ParamSpec, TypeVar

from starlette.concurrency import run_in_threadpool

from app.db.unit_of_work import UnitOfWork
from app.domain.bills import Biller
from app.domain.records.harambee import CampaignFilter, CampaignRow, PledgeFilter, PledgeRow
from app.domain.records.ledger import StatementLine
from app.domain.records.pay_requests import PendingPayRequest
from app.domain.records.schedules import Schedule
from app.domain.records.wages import EmployedWorker, PayRunLine
from app.domain.wages import ITEMS
from app.errors import InviteLimitReached, MpesaUnavailable, PinLocked, ValidationFailed
from app.integrations.airtime import AfricasTalkingAirtime, AirtimeRail
from app.integrations.daraja import Daraja, DarajaClient, DarajaConfig
from app.runtime import Runtime
from app.services import (
    accounts,
    invitations,
    pay_requests,
    pins,
    registration,
    statements,
    transfers,
)
from app.services.accounts import Profile
from app.services.bills import catalogue as bill_catalogue
from app.services.bills import payments as bill_payments
from app.services.bills import tokens as bill_tokens
from app.services.custody import SecretBox
from app.services.harambee import campaigns, closing, pledges
from app.services.harambee.contributions import (
    Contribution,
    ContributionRequest,
    contribute_with_pin,
)
from app.services.ledger import Movement
from app.services.merchant_payments import payments as merchant_payments
from app.services.merchant_payments import tills
from app.services.mpesa import deposits, withdrawals
from app.services.schedules import manage as schedules
from app.services.schedules import repeat as schedule_repeat
from app.services.schedules import wages as wage_schedules
from app.services.wages import employers as wage_employers
from app.services.wages import pay_runs as wage_runs
from app.services.wages import reports as wage_reports

P = ParamSpec("P")
# How long a USSD hop waits for a biller to name an account's holder: well inside the
# hop's own deadline (Settings.ussd_hop_deadline_s, 1.5 s), which ends the session with
# an apology when passed. Slower, only the account's form is checked.
USSD_LOOKUP_WAIT_S = 0.7
# The lookup's own HTTP timeout: it bounds the thread a late answer keeps busy.
USSD_LOOKUP_TIMEOUT_S = 2.0
T = TypeVar("T")


class ChannelServices:
    def __init__(self, runtime: Runtime) -> None:
        settings = runtime.settings
        self.runtime = runtime
        self.settings = settings
        self.hasher = pins.PinHasher.from_settings(settings)
        self.pin_policy = pins.PinPolicy.from_settings(settings)
        self.box = SecretBox.from_settings(settings)
        self.shortcode = settings.ussd_service_codes[0]
        self._pin_checks = runtime.pin_checks
        self._pin_pool = runtime.pin_pool
        # AT's Airtime API (or its local sandbox): its status, asked when AT calls back.
        self.airtime: AirtimeRail = AfricasTalkingAirtime.from_settings(settings)
        # Daraja (or its local sandbox) where M-Pesa is on: a Paybill account's holder.
        self.daraja: Daraja | None = (
            DarajaClient.from_settings(settings) if settings.mpesa_enabled else None
        )
        # The same, asked inside a USSD hop: a biller slower than this is not waited for
        # (the account's form is checked; the biller is asked again at payment).
        self.bill_lookup: Daraja | None = (
            DarajaClient(
                replace(DarajaConfig.from_settings(settings), timeout_s=USSD_LOOKUP_TIMEOUT_S)
            )
            if settings.mpesa_enabled
            else None
        )

    # ---- the two ways to call a service -----------------------------------------------

    async def run(
        self, service: Callable[Concatenate[UnitOfWork, P], T], /, *args: P.args, **kw: P.kwargs
    ) -> T:
        """service(uow, *args, **kw) in the thread pool, with a fresh unit of work."""
        return await run_in_threadpool(service, self.runtime.uow(), *args, **kw)

    async def read(
        self, service: Callable[Concatenate[UnitOfWork, P], T], /, *args: P.args, **kw: P.kwargs
    ) -> T:
        """run(), for a service that only reads what is shown (a statement, a history):
        on the read replica when there is one (Runtime.read_uow)."""
        return await run_in_threadpool(service, self.runtime.read_uow(), *args, **kw)

    async def with_pin(self, work: Callable[[], T]) -> T:
        """Blocking work that checks or hashes a PIN: one per core at a time, on the PIN
        pool's low-priority threads, never in the shared thread pool."""
        async with self._pin_checks:
            return await self._pin_pool.run(work)

    async def run_pin(
        self,
        service: Callable[Concatenate[UnitOfWork, pins.PinHasher, pins.PinPolicy, P], T],
        /,
        *args: P.args,
        **kw: P.kwargs,
    ) -> T:
        """service(uow, hasher, policy, *args, **kw): a service that checks a PIN itself,
        in the thread pool, taking its turn with every other PIN check."""
        return await self.with_pin(
            lambda: service(self.runtime.uow(), self.hasher, self.pin_policy, *args, **kw)
        )

    def _verify(self, user_id: int, pin: str, attempt_key: str) -> None:
        pins.verify_pin(
            self.runtime.uow(),
            self.hasher,
            self.pin_policy,
            user_id=user_id,
            pin=pin,
            attempt_key=attempt_key,
        )

    async def pin_checked(
        self,
        user_id: int,
        pin: str,
        attempt_key: str,
        service: Callable[Concatenate[UnitOfWork, P], T],
        /,
        *args: P.args,
        **kw: P.kwargs,
    ) -> T:
        """Check the user's PIN, then run the service: one thread-pool call, one turn.
        Raises WrongPin, PinLocked, PinResetRequired before the service runs."""

        def work() -> T:
            self._verify(user_id, pin, attempt_key)
            return service(self.runtime.uow(), *args, **kw)

        return await self.with_pin(work)

    async def pin_checked_read(
        self,
        user_id: int,
        pin: str,
        attempt_key: str,
        service: Callable[Concatenate[UnitOfWork, P], T],
        /,
        *args: P.args,
        **kw: P.kwargs,
    ) -> T:
        """pin_checked() for a service that only reads what is shown: the PIN is checked
        (and its attempts written) on the primary, the service reads the replica."""

        def work() -> T:
            self._verify(user_id, pin, attempt_key)
            return service(self.runtime.read_uow(), *args, **kw)

        return await self.with_pin(work)

    # ---- who is calling ------------------------------------------------------------------

    async def profile(self, phone: str) -> Profile | None:
        """The registered user behind a phone, or None."""
        return await self.run(accounts.get_profile, phone)

    async def hash_pin(self, pin: str) -> str:
        """A slow salted hash of a PIN, safe to keep in a USSD session."""
        return await self.with_pin(lambda: self.hasher.hash(pin))

    async def pin_matches(self, pin_hash: str, pin: str) -> bool:
        return await self.with_pin(lambda: self.hasher.verify(pin_hash, pin))

    async def register(self, new: registration.NewUser) -> Profile:
        """Create the user and wallet once per registration key; raises
        AlreadyRegistered, ValidationFailed."""
        done = await self.run(registration.register_user, self.box, new, shortcode=self.shortcode)
        wallet = done.wallet
        return accounts.profile_of(done.user, wallet.stellar_address, wallet.activation_status)

    async def verify_pin(self, *, user_id: int, pin: str, attempt_key: str) -> None:
        """Raises WrongPin (attempts left), PinLocked (until) or PinResetRequired."""
        await self.with_pin(lambda: self._verify(user_id, pin, attempt_key))

    async def set_pin(self, *, user_id: int, pin_hash: str, key: str) -> None:
        """Replace the PIN with an already verified and hashed new one."""
        await self.run(pins.set_pin, user_id=user_id, pin_hash=pin_hash, dedupe_key=key)

    async def set_language(self, *, user_id: int, language: str) -> Profile:
        """Change the user's language; returns the updated profile."""
        return await self.run(accounts.update_profile, user_id=user_id, language=language)

    def validate_name(self, raw: str) -> str:
        """The cleaned full name; raises ValidationFailed."""
        return registration.validate_full_name(raw)

    async def wallet_status(self, *, user_id: int) -> str:
        """The wallet's status on Stellar read now from PostgreSQL (the worker activates
        wallets with no Redis at hand, so a cached profile keeps 'pending'):
        pending | active | failed."""
        return (await self.run(accounts.get_profile_by_id, user_id)).activation_status

    async def pin_lock(self, *, user_id: int) -> PinLocked | None:
        """What a PIN check would raise now (PinLocked, PinResetRequired), or None."""
        return await self.run(pins.current_lock, user_id=user_id)

    # ---- Send money ----------------------------------------------------------------------

    async def find_recipient(self, *, sender_user_id: int, phone: str) -> transfers.Recipient:
        """The user behind phone (E.164); raises RecipientNotRegistered, or
        ValidationFailed ('send_to_self')."""
        return await self.run(transfers.find_recipient, sender_user_id=sender_user_id, phone=phone)

    async def invite(self, *, sender_user_id: int, phone: str) -> bool:
        """Queue an invitation SMS; False if this number was already invited today.
        Raises ValidationFailed ('already_registered'), InviteLimitReached."""
        return await self.run(
            invitations.invite,
            sender_user_id=sender_user_id,
            phone=phone,
            shortcode=self.shortcode,
            daily_limit=self.settings.invites_per_sender_per_day,
        )

    async def quote_transfer(self, *, sender_user_id: int, amount: int) -> transfers.Quote:
        """The fee of a transfer the sender could make now; raises LimitExceeded,
        InsufficientFunds, ValidationFailed ('invalid_amount')."""
        return await self.run(
            transfers.quote_transfer, sender_user_id=sender_user_id, amount=amount
        )

    async def send_money(
        self, request: transfers.TransferRequest, *, pin: str, attempt_key: str | None = None
    ) -> Movement:
        """Check the PIN, then transfer, once per idempotency key. Raises WrongPin,
        PinLocked, then LimitExceeded, InsufficientFunds, RecipientNotRegistered."""
        return await self.run_pin(transfers.send_money, request, pin=pin, attempt_key=attempt_key)

    # ---- Pay a merchant ------------------------------------------------------------------

    async def find_merchant(self, *, till: str) -> tills.Payee:
        """The merchant at this till; raises ValidationFailed ('invalid_till'),
        MerchantNotFound, MerchantUnavailable."""
        return await self.run(tills.find_merchant, till=till)

    async def quote_merchant_payment(
        self,
        *,
        payer_user_id: int,
        till: str | None = None,
        amount: int | None = None,
        order_code: str | None = None,
    ) -> tills.PaymentQuote:
        """The merchant's name and both fees of a payment the payer could make now, at a
        till or for a pay order (its amount and description); raises ValidationFailed,
        OrderNotFound, OrderNotPayable, WrongOrderAmount, MerchantNotFound,
        MerchantUnavailable, LimitExceeded, InsufficientFunds."""
        return await self.run(
            tills.quote_payment,
            payer_user_id=payer_user_id,
            till=till,
            amount=amount,
            order_code=order_code,
        )

    async def pay_merchant(
        self,
        request: merchant_payments.MerchantPaymentRequest,
        *,
        pin: str,
        attempt_key: str | None = None,
    ) -> merchant_payments.MerchantPayment:
        """Check the PIN, then pay the merchant (at a till or a pay order) once per key.
        Raises ValidationFailed, WrongPin, PinLocked, then OrderNotFound, OrderNotPayable,
        WrongOrderAmount, MerchantNotFound, MerchantUnavailable, LimitExceeded,
        InsufficientFunds."""
        return await self.run_pin(
            merchant_payments.pay_merchant, request, pin=pin, attempt_key=attempt_key
        )

    # ---- Pay: bills and airtime (docs/bills.md) ---------------------------------------

    async def airtime_biller(self, *, phone: str) -> bill_catalogue.AccountCheck:
        """The airtime biller of a phone's network; raises ValidationFailed,
        BillerNotFound."""
        return await self.run(bill_catalogue.airtime_biller, phone=phone)

    async def payable_billers(self) -> list[Biller]:
        """The active billers whose rail is open here, in screen order."""
        return await self.run(bill_catalogue.payable_billers, self.settings.bill_rails)

    async def validate_bill_account(
        self, *, biller_code: str, account: str
    ) -> bill_catalogue.AccountCheck:
        """The account as it will be paid and, for a Paybill biller, its holder's name
        as the biller gives it (not waited for past USSD_LOOKUP_WAIT_S: then the form
        only, looked_up False). Raises BillerNotFound, ValidationFailed
        ('invalid_account', 'not_on_network')."""
        try:
            async with asyncio.timeout(USSD_LOOKUP_WAIT_S):
                return await self.run(
                    bill_catalogue.validate_account,
                    biller_code=biller_code,
                    account=account,
                    lookup=self.bill_lookup,
                )
        except TimeoutError:
            return await self.run(
                bill_catalogue.validate_account, biller_code=biller_code, account=account
            )

    async def resend_tokens(self, *, user_id: int, key: str) -> int:
        """The user's last prepaid tokens sent again by SMS, once per key; how many."""
        return await self.run(bill_tokens.resend_tokens, user_id=user_id, key=key)

    async def quote_bill(
        self, *, user_id: int, biller_code: str, account: str, amount: int
    ) -> bill_catalogue.BillQuote:
        """A bill's fee before the PIN; raises BillerNotFound, ValidationFailed,
        LimitExceeded, InsufficientFunds."""
        return await self.run(
            bill_catalogue.quote_bill,
            user_id=user_id,
            biller_code=biller_code,
            account=account,
            amount=amount,
        )

    async def pay_bill(
        self, request: bill_payments.BillRequest, *, pin: str, attempt_key: str | None = None
    ) -> bill_payments.BillHeld:
        """Check the PIN, then hold the bill and queue it to its rail, once per key. Raises
        BillerNotFound, BillerUnavailable, ValidationFailed, WrongPin, PinLocked,
        LimitExceeded, InsufficientFunds."""
        return await self.run_pin(
            bill_payments.pay_bill,
            request,
            pin=pin,
            attempt_key=attempt_key,
            open_rails=self.settings.bill_rails,
        )

    async def pending_pay_request(self, *, payer_user_id: int) -> PendingPayRequest | None:
        """The payer's newest request to pay they can still pay now, or None."""
        return await self.run(pay_requests.pending_for, payer_user_id, datetime.now(UTC))

    async def decline_pay_request(self, *, payer_user_id: int, request_id: int) -> None:
        """Decline a request to pay; raises PayRequestNotPending."""
        await self.run(pay_requests.decline, payer_user_id, request_id, datetime.now(UTC))

    # ---- M-Pesa --------------------------------------------------------------------------

    def _mpesa_on(self) -> None:
        if not self.settings.mpesa_enabled:
            raise MpesaUnavailable("M-Pesa is not available here")

    async def request_deposit(self, request: deposits.DepositRequest) -> deposits.Requested:
        """Queue an M-Pesa prompt to the user's own phone, once per key. Raises
        ValidationFailed ('invalid_amount', 'not_an_mpesa_number'), MpesaUnavailable."""
        self._mpesa_on()
        return await self.run(
            deposits.request_deposit, request, query_after_s=self.settings.mpesa_stk_query_after_s
        )

    async def quote_withdrawal(self, *, user_id: int, amount: int) -> transfers.Quote:
        """The fee of a withdrawal the user could make now; raises LimitExceeded,
        InsufficientFunds, ValidationFailed ('invalid_amount')."""
        return await self.run(withdrawals.quote_withdrawal, user_id=user_id, amount=amount)

    async def withdraw(
        self, request: withdrawals.WithdrawalRequest, *, pin: str, attempt_key: str | None = None
    ) -> withdrawals.Held:
        """Check the PIN, then hold amount + fee and queue the M-Pesa payment, once per
        key. Raises WrongPin, PinLocked, then LimitExceeded, InsufficientFunds,
        ValidationFailed, MpesaUnavailable."""
        self._mpesa_on()
        return await self.run_pin(
            withdrawals.withdraw,
            request,
            pin=pin,
            result_wait_s=self.settings.mpesa_result_wait_s,
            attempt_key=attempt_key,
        )

    # ---- the wallet ----------------------------------------------------------------------

    async def balance(self, *, user_id: int, pin: str, attempt_key: str) -> int:
        """The wallet balance in cents once the PIN checks; raises WrongPin, PinLocked."""
        return await self.pin_checked(
            user_id, pin, attempt_key, statements.balance, user_id=user_id
        )

    async def mini_statement(
        self, *, user_id: int, pin: str, attempt_key: str
    ) -> list[StatementLine]:
        """The latest movements, newest first, once the PIN checks (read from the
        replica when there is one: it may lag by the replica's delay)."""
        return await self.pin_checked_read(
            user_id, pin, attempt_key, statements.mini_statement, user_id=user_id
        )

    # ---- Harambee ------------------------------------------------------------------------

    async def campaigns(
        self, *, where: CampaignFilter, limit: int
    ) -> tuple[list[CampaignRow], bool]:
        """A page of campaigns, newest first, and whether older ones exist."""
        return await self.run(campaigns.list_campaigns, where=where, limit=limit)

    async def campaign_by_code(self, *, code: str) -> CampaignRow:
        """The campaign a six-digit code names; raises NotFound, ValidationFailed."""
        return await self.run(campaigns.find_by_code, code)

    async def contribute(
        self, request: ContributionRequest, *, pin: str, attempt_key: str | None = None
    ) -> Contribution:
        """Check the PIN, then contribute once per key. Raises WrongPin, PinLocked, then
        CampaignNotOpen, LimitExceeded, InsufficientFunds."""
        return await self.run_pin(contribute_with_pin, request, pin=pin, attempt_key=attempt_key)

    async def pledges(self, *, where: PledgeFilter, limit: int) -> tuple[list[PledgeRow], bool]:
        """A page of the user's pledges, newest first, and whether older ones exist."""
        return await self.run(pledges.list_pledges, where=where, limit=limit)

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
    ) -> tuple[Contribution, PledgeRow]:
        """Check the PIN, then pay amount (None: all that remains) toward the pledge once
        per key; the payment and the pledge right after. Raises WrongPin, PinLocked, then
        CampaignNotOpen, PledgeNotOpen, ValidationFailed ('exceeds_pledge'),
        LimitExceeded, InsufficientFunds."""

        def work() -> tuple[Contribution, PledgeRow]:
            done = pledges.pay_pledge_with_pin(
                self.runtime.uow(),
                self.hasher,
                self.pin_policy,
                pledge_id=pledge_id,
                user_id=user_id,
                amount=amount,
                key=key,
                pin=pin,
                attempt_key=attempt_key,
                channel=channel,
            )
            pledge = pledges.get_pledge(self.runtime.uow(), pledge_id=pledge_id, user_id=user_id)
            return done, pledge

        return await self.with_pin(work)

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
    ) -> pledges.Pledged:
        """Check the PIN, then pledge once per key. Raises WrongPin, PinLocked, then
        CampaignNotOpen, ValidationFailed ('invalid_due_date')."""
        return await self.pin_checked(
            user_id,
            pin,
            f"pledge:{user_id}:{key}",
            pledges.make_pledge,
            user_id=user_id,
            campaign_id=campaign_id,
            amount=amount,
            due_date=due_date,
            is_anonymous=anonymous,
            key=key,
            shortcode=self.shortcode,
            channel=channel,
        )

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
    ) -> campaigns.Started:
        """Check the PIN, then start the campaign once per key (its code goes by SMS).
        Raises WrongPin, PinLocked, ValidationFailed ('too_many_campaigns', ...)."""
        return await self.pin_checked(
            user_id,
            pin,
            f"campaign:{user_id}:{key}",
            campaigns.start_campaign,
            organiser_user_id=user_id,
            title=title,
            target_amount=target,
            end_date=end_date,
            key=key,
            shortcode=self.shortcode,
            channel=channel,
        )

    async def close_campaign_with_pin(
        self, *, user_id: int, campaign_id: int, pin: str, key: str, channel: str
    ) -> closing.Closed:
        """Check the PIN, then close and pay out. Raises WrongPin, PinLocked,
        NotOrganiser, CampaignEnded."""
        return await self.pin_checked(
            user_id,
            pin,
            f"close:{user_id}:{key}",
            closing.close_campaign,
            campaign_id=campaign_id,
            user_id=user_id,
            channel=channel,
        )

    async def cancel_campaign_with_pin(
        self, *, user_id: int, campaign_id: int, pin: str, key: str, channel: str
    ) -> closing.Cancelled:
        """Check the PIN, then cancel and refund every contributor. Raises WrongPin,
        PinLocked, NotOrganiser, CampaignEnded."""
        return await self.pin_checked(
            user_id,
            pin,
            f"cancel:{user_id}:{key}",
            closing.cancel_campaign,
            campaign_id=campaign_id,
            user_id=user_id,
            channel=channel,
        )

    # ---- scheduled payments ------------------------------------------------------------

    async def schedules(
        self, *, owner_user_id: int, limit: int, before_id: int | None = None
    ) -> tuple[list[Schedule], bool]:
        """The owner's active and paused schedules, newest first, and whether older ones
        exist."""
        found = await self.run(
            schedules.list_for,
            owner_user_id,
            live_only=True,
            limit=limit + 1,
            before_id=before_id,
        )
        return found[:limit], len(found) > limit

    async def change_schedule(
        self, *, owner_user_id: int, schedule_id: int, change: str, pin: str, attempt_key: str
    ) -> Schedule:
        """Check the PIN, then pause, resume or stop (change) the owner's schedule.
        Raises WrongPin, PinLocked, PinResetRequired, ScheduleNotFound, ScheduleEnded."""
        return await self.pin_checked(
            owner_user_id,
            pin,
            attempt_key,
            schedules.CHANGES[change],
            owner_user_id,
            schedule_id,
            datetime.now(UTC),
        )

    async def schedule_transfer(
        self, new: schedules.NewSchedule, *, pin: str, attempt_key: str
    ) -> schedules.Created:
        """Check the owner's PIN, then schedule a repeating Send money. Raises WrongPin,
        PinLocked, PinResetRequired, then what schedules.create raises."""
        return await self.pin_checked(
            new.owner_user_id,
            pin,
            attempt_key,
            schedules.create,
            new,
            datetime.now(UTC),
            bill_rails=self.settings.bill_rails,
        )

    async def repeat_payment(
        self, new: schedules.NewSchedule, *, paid_key: str
    ) -> schedules.Created:
        """Schedule the monthly repeat of a payment the owner has just made with the PIN
        under paid_key (no PIN asked again: the payment's was). Raises ValidationFailed
        ('not_paid'), then what schedules.create raises."""
        return await self.run(
            schedule_repeat.repeat_payment,
            new,
            paid_key,
            datetime.now(UTC),
            bill_rails=self.settings.bill_rails,
        )

    # ---- wages -------------------------------------------------------------------------

    async def wage_workers(self, *, employer_user_id: int) -> list[EmployedWorker]:
        """The employer's active workers, oldest first. Raises NotAnEmployer."""
        return await self.run(wage_employers.list_workers, employer_user_id)

    async def draft_pay(
        self, *, employer_user_id: int, worker_id: int, pay_date: date, key: str
    ) -> wage_runs.RunShown:
        """A draft pay run of one worker (its payslip), once per key. Raises
        NotAnEmployer, IdempotencyConflict, ValidationFailed ('no_workers',
        'no_rule_in_force', 'pay_too_low')."""
        return await self.run(
            wage_runs.create_pay_run,
            employer_user_id=employer_user_id,
            pay_date=pay_date,
            idempotency_key=key,
            worker_ids=[worker_id],
            channel="ussd",
        )

    async def approve_pay(
        self, *, employer_user_id: int, run_id: int, pin: str, attempt_key: str
    ) -> wage_runs.RunShown:
        """Check the PIN, then hold the run's cost (the worker pays its lines). Raises
        WrongPin, PinLocked, PinResetRequired, PayRunNotFound, LimitExceeded,
        InsufficientFunds."""
        return await self.pin_checked(
            employer_user_id,
            pin,
            attempt_key,
            wage_runs.approve_pay_run,
            employer_user_id=employer_user_id,
            run_id=run_id,
        )

    async def employ_worker(
        self,
        *,
        employer_user_id: int,
        phone: str,
        display_name: str,
        gross_pay: int,
        frequency: str,
    ) -> tuple[EmployedWorker, str | None]:
        """Make the user an employer (once) and add a worker on an E.164 phone who pays
        every statutory item; a phone not on PayTrace is invited. The invitation:
        'invited', 'already_invited', 'not_sent' or None (registered). Raises
        WorkerExists, ValidationFailed (check_terms' codes, 'send_to_self',
        'too_many_workers')."""
        await self.run(wage_employers.become_employer, employer_user_id)
        added = await self.run(
            wage_employers.add_worker,
            employer_user_id=employer_user_id,
            phone=phone,
            display_name=display_name,
            gross_pay=gross_pay,
            frequency=frequency,
            deductions=list(ITEMS),
        )
        if added.registered:
            return added, None
        try:
            sent = await self.invite(sender_user_id=employer_user_id, phone=added.phone)
        except (InviteLimitReached, ValidationFailed):  # the worker is added all the same
            return added, "not_sent"
        return added, "invited" if sent else "already_invited"

    async def schedule_wage(
        self, new: wage_schedules.NewWageSchedule, *, pin: str, attempt_key: str
    ) -> schedules.Created:
        """Check the employer's PIN, then put the worker's pay on a schedule at the
        worker's frequency (wage_schedules.schedule_pay, as REST). Raises WrongPin,
        PinLocked, PinResetRequired, then NotAnEmployer, WorkerNotFound,
        IdempotencyConflict, ValidationFailed ('daily_not_scheduled',
        'too_many_schedules', 'invalid_schedule', 'invalid_start', 'no_rule_in_force',
        'pay_too_low')."""
        return await self.pin_checked(
            new.employer_user_id,
            pin,
            attempt_key,
            wage_schedules.schedule_pay,
            new,
            datetime.now(UTC),
        )

    async def edit_worker(
        self,
        *,
        employer_user_id: int,
        worker_id: int,
        gross_pay: int,
        frequency: str,
        pin: str,
        attempt_key: str,
    ) -> EmployedWorker:
        """Check the employer's PIN, then change the worker's gross pay and frequency
        (employers.edit_worker, as REST's PATCH). Raises WrongPin, PinLocked,
        PinResetRequired, then NotAnEmployer, WorkerNotFound, ValidationFailed
        ('invalid_amount', 'invalid_frequency', 'frequency_scheduled')."""
        return await self.pin_checked(
            employer_user_id,
            pin,
            attempt_key,
            wage_employers.edit_worker,
            employer_user_id,
            worker_id,
            gross_pay=gross_pay,
            frequency=frequency,
        )

    async def next_pay(self, *, user_id: int) -> list[tuple[str, datetime]]:
        """The user's next pay as a worker: each employer's name and the instant its
        wage schedule pays next, soonest first."""
        return await self.run(wage_schedules.next_pay_dates, user_id)

    async def my_pay(self, *, user_id: int) -> list[tuple[PayRunLine, date]]:
        """The lines paid to the user as a worker, newest first, with their pay dates."""
        return await self.run(wage_reports.payslips_of_worker, user_id)
