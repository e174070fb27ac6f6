"""What the USSD flow needs from the rest of PayTrace, as one async port.

The flow never touches SQL, Redis or HTTP clients: it calls these. The real
adapter (`app.ussd.adapter`) runs the service layer in a worker thread; unit
tests use `FakeUssdServices` (tests/unit/fakes.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypedDict

from app.errors import PinLocked
from app.ussd.harambee.ports import HarambeeServices


class ProfileDict(TypedDict):
    user_id: int
    paytrace_id: str
    phone: str
    full_name: str
    language: str
    role: str
    stellar_address: str
    activation_status: str


@dataclass(frozen=True)
class Payee:
    """A registered recipient, as the sender is shown them."""

    user_id: int
    full_name: str
    phone: str  # E.164


@dataclass(frozen=True)
class TransferQuote:
    amount: int  # cents
    fee: int  # cents
    balance: int  # the sender's balance now, cents

    @property
    def total(self) -> int:
        return self.amount + self.fee


@dataclass(frozen=True)
class SentMoney:
    reference: str
    amount: int  # cents
    fee: int  # cents
    balance: int  # the sender's balance after the transfer, cents
    replayed: bool  # True: an earlier call with the same key made the transfer


@dataclass(frozen=True)
class DepositAsked:
    """A deposit whose M-Pesa prompt is on its way to the user's phone."""

    reference: str
    amount: int  # cents
    replayed: bool  # True: an earlier call with the same key asked for it


@dataclass(frozen=True)
class WithdrawalAsked:
    """A withdrawal held in the wallet and on its way to M-Pesa."""

    reference: str
    amount: int  # cents
    fee: int  # cents
    balance: int  # the wallet's balance after the hold, cents
    replayed: bool


@dataclass(frozen=True)
class StatementEntry:
    created_at: datetime  # timezone-aware
    kind: str  # transfer | cash_in | reversal
    amount: int  # signed cents, fee included
    reference: str
    counterparty_name: str | None


class UssdServices(HarambeeServices, Protocol):
    async def profile(self, phone: str) -> ProfileDict | None:
        """The registered user behind a phone, or None."""

    async def hash_pin(self, pin: str) -> str:
        """A slow salted hash of a PIN, safe to keep in the session."""

    async def pin_matches(self, pin_hash: str, pin: str) -> bool:
        """Whether pin is the one hashed in pin_hash."""

    async def register(
        self, *, phone: str, full_name: str, pin_hash: str, language: str, key: str
    ) -> ProfileDict:
        """Create the user and wallet once per key; raises AlreadyRegistered, ValidationFailed."""

    async def verify_pin(self, *, user_id: int, pin: str, attempt_key: str) -> None:
        """Raises WrongPin (attempts left), PinLocked (until) or PinResetRequired."""

    async def set_pin(self, *, user_id: int, pin_hash: str, key: str) -> None:
        """Replace the PIN with an already verified and hashed new one."""

    async def set_language(self, *, user_id: int, phone: str, language: str) -> ProfileDict:
        """Change the user's language; returns the updated profile."""

    def validate_name(self, raw: str) -> str:
        """The cleaned full name; raises ValidationFailed."""

    async def wallet_status(self, *, user_id: int) -> str:
        """The wallet's on-chain status read now from PostgreSQL, never from the cached
        profile: pending | active | failed."""

    async def pin_lock(self, *, user_id: int) -> PinLocked | None:
        """What a PIN check would raise now (PinLocked with `until`, or PinResetRequired),
        or None when money-out is open."""

    async def find_recipient(self, *, sender_user_id: int, phone: str) -> Payee:
        """The user behind phone (E.164); raises RecipientNotRegistered, or
        ValidationFailed (code 'send_to_self')."""

    async def invite(self, *, sender_user_id: int, phone: str) -> bool:
        """Queue an invitation SMS; False if this number was already invited today.
        Raises ValidationFailed ('already_registered'), InviteLimitReached (the
        sender's invitations for the day are used up: nothing is sent)."""

    async def quote_transfer(self, *, sender_user_id: int, amount: int) -> TransferQuote:
        """The fee of a transfer the sender could make now; raises LimitExceeded,
        InsufficientFunds, ValidationFailed ('invalid_amount')."""

    async def send_money(
        self, *, sender_user_id: int, recipient_phone: str, amount: int, pin: str, key: str
    ) -> SentMoney:
        """Check the PIN, then transfer, once per key (a repeat returns the same result).
        Raises WrongPin, PinLocked, then LimitExceeded, InsufficientFunds,
        RecipientNotRegistered."""

    async def request_deposit(self, *, user_id: int, amount: int, key: str) -> DepositAsked:
        """Queue an M-Pesa prompt to the user's own phone, once per key. Raises
        ValidationFailed ('invalid_amount', 'not_an_mpesa_number'), MpesaUnavailable."""

    async def quote_withdrawal(self, *, user_id: int, amount: int) -> TransferQuote:
        """The fee of a withdrawal the user could make now; raises LimitExceeded,
        InsufficientFunds, ValidationFailed ('invalid_amount')."""

    async def withdraw(self, *, user_id: int, amount: int, pin: str, key: str) -> WithdrawalAsked:
        """Check the PIN, then hold amount + fee and queue the M-Pesa payment, once per
        key. Raises WrongPin, PinLocked, then LimitExceeded, InsufficientFunds,
        ValidationFailed, MpesaUnavailable."""

    async def balance(self, *, user_id: int, pin: str, attempt_key: str) -> int:
        """The wallet balance in cents once the PIN checks; raises WrongPin, PinLocked."""

    async def mini_statement(
        self, *, user_id: int, pin: str, attempt_key: str
    ) -> list[StatementEntry]:
        """The latest movements, newest first, once the PIN checks; raises WrongPin,
        PinLocked."""
