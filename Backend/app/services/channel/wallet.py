"""The wallet's balance and mini statement behind the PIN (ChannelServices composes
this)."""

from __future__ import annotations

from app.domain.records.ledger import StatementLine
from app.services import statements
from app.services.channel.calling import ChannelCore


class WalletServices(ChannelCore):
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
