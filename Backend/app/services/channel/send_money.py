"""Send money as both channels call it: the recipient, an invitation, the quote and the
transfer (ChannelServices composes this)."""

from __future__ import annotations

from app.services import invitations, transfers
from app.services.channel.calling import ChannelCore
from app.services.ledger import Movement


class SendMoneyServices(ChannelCore):
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
