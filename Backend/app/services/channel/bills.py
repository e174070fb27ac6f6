"""Pay: bills, airtime and requests to pay as both channels call them (docs/bills.md;
ChannelServices composes this)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from app.domain.bills import Biller
from app.domain.records.pay_requests import PendingPayRequest
from app.services import pay_requests
from app.services.bills import catalogue as bill_catalogue
from app.services.bills import payments as bill_payments
from app.services.bills import tokens as bill_tokens
from app.services.channel.calling import USSD_LOOKUP_WAIT_S, ChannelCore


class BillServices(ChannelCore):
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
