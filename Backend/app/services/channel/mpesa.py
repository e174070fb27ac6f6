"""M-Pesa deposits and withdrawals as both channels call them (ChannelServices
composes this)."""

from __future__ import annotations

from app.errors import MpesaUnavailable
from app.services import transfers
from app.services.channel.calling import ChannelCore
from app.services.mpesa import deposits, withdrawals


class MpesaServices(ChannelCore):
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
