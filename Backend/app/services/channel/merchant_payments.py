"""Pay a merchant as both channels call it: the till, the quote and the payment
(ChannelServices composes this)."""

from __future__ import annotations

from app.services.channel.calling import ChannelCore
from app.services.merchant_payments import payments as merchant_payments
from app.services.merchant_payments import tills


class MerchantPaymentServices(ChannelCore):
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
