"""What operators read before they act: a user's standing, a journal transaction and
its settlement on Stellar."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from app.db.repositories.settlements import SettlementState
from app.db.unit_of_work import UnitOfWork
from app.services.accounts import Profile, profile_of


@dataclass(frozen=True)
class PinState:
    failed_attempts: int
    locked_until: datetime | None
    locked: bool  # money-out is refused (a lock still ahead, or a reset required)
    lock_count: int  # locks since the last right PIN: the next one lasts longer
    reset_required: bool  # only an operator's unlock or an SMS-code reset opens it


@dataclass(frozen=True)
class UserOverview:
    profile: Profile
    kyc_tier: int
    created_at: datetime
    balance: int  # cents
    pin: PinState | None  # None only for a user without a PIN credential


@dataclass(frozen=True)
class LegView:
    account_id: int
    account_kind: str  # wallet | fees | mpesa_float | suspense
    account_code: str | None  # system accounts only
    phone: str | None  # the wallet's owner
    full_name: str | None
    amount: int  # cents, signed
    balance_after: int


@dataclass(frozen=True)
class TransactionView:
    id: int
    reference: str
    kind: str
    amount: int
    fee: int
    channel: str
    note: str | None
    reverses_id: int | None
    reversed_by_id: int | None  # the reversal of this transaction, if there is one
    created_at: datetime
    legs: tuple[LegView, ...]
    settlement: SettlementState | None = None  # None: it moves nothing on-chain


def user_overview(uow: UnitOfWork, phone: str, now: datetime | None = None) -> UserOverview | None:
    """Profile, KYC tier, balance and PIN state of the user behind an E.164 phone, or None.

    Reads only (no lock is taken). Raises ServiceUnavailable.
    """
    now = now or datetime.now(UTC)
    with uow:
        found = uow.users.get_with_wallet_by_phone(phone)
        if found is None:
            return None
        user, address, activation_status = found
        limits = uow.ledger.tier_limits(user.id)
        balance = uow.ledger.wallet_balance(user.id)
        credential = uow.pins.get(user.id)
    pin = None
    if credential is not None:
        until = credential.locked_until
        pin = PinState(
            failed_attempts=credential.failed_attempts,
            locked_until=until,
            locked=credential.reset_required or (until is not None and until > now),
            lock_count=credential.lock_count,
            reset_required=credential.reset_required,
        )
    return UserOverview(
        profile=profile_of(user, address, activation_status),
        kyc_tier=limits.tier if limits is not None else 1,
        created_at=user.created_at,
        balance=balance or 0,
        pin=pin,
    )


def transaction_view(uow: UnitOfWork, transaction_id: int) -> TransactionView | None:
    """A journal transaction with its legs, their accounts' owners and its settlement on
    Stellar, or None.

    Reads only (no lock is taken). Raises ServiceUnavailable.
    """
    with uow:
        entry = uow.ledger.find(transaction_id=transaction_id)
        if entry is None:
            return None
        accounts = {
            account.id: account
            for account in uow.ledger.accounts(
                account_ids=[leg.account_id for leg in entry.legs], for_update=False
            )
        }
        reversal = uow.ledger.reversal_of(entry.id)
        settlement = uow.settlements.state(entry.id)
    legs = []
    for leg in entry.legs:
        account = accounts[leg.account_id]
        legs.append(
            LegView(
                account_id=leg.account_id,
                account_kind=account.kind,
                account_code=account.code,
                phone=account.phone,
                full_name=account.full_name,
                amount=leg.amount,
                balance_after=leg.balance_after,
            )
        )
    return TransactionView(
        id=entry.id,
        reference=entry.reference,
        kind=entry.kind,
        amount=entry.amount,
        fee=entry.fee,
        channel=entry.channel,
        note=entry.note,
        reverses_id=entry.reverses_id,
        reversed_by_id=reversal.id if reversal is not None else None,
        created_at=entry.created_at,
        legs=tuple(legs),
        settlement=settlement,
    )
