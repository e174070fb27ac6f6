"""A merchant's money: eight ledger accounts, its shards (migration 0062).

A payer at a till always pays the shard of their wallet's id mod 8, so that payments to
one merchant do not queue on one row (ledger_merchant_pay). Money paid from M-Pesa or
Stellar, and a payout M-Pesa failed, go to shard 0 (`merchants.account_id`), locking
that one alone. What the merchant holds is the shards' sum: every payout, refund and
reversal locks all of them (with its other accounts, in one statement: the lock order)
and draws what it takes from them, the fullest first.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.db.repositories.ledger import LockedAccount
from app.db.unit_of_work import UnitOfWork
from app.domain.records.merchants import MerchantRow

MERCHANT_SHARDS = 8  # merchant_accounts.shard is 0 to 7


@dataclass(frozen=True)
class MerchantFunds:
    """A merchant's accounts, locked, shard 0 first."""

    shards: tuple[LockedAccount, ...]

    @property
    def balance(self) -> int:
        """What the merchant holds, cents."""
        return sum(shard.balance for shard in self.shards)

    @property
    def main(self) -> LockedAccount:
        """Shard 0 (`merchants.account_id`)."""
        return self.shards[0]

    def holds(self, account_id: int) -> bool:
        return any(shard.id == account_id for shard in self.shards)

    def draw(self, amount: int) -> list[tuple[int, int]]:
        """The legs that take `amount` cents from the shards: the fullest first (fewest
        legs), none below zero. Raises ValueError when they hold less (the caller
        checks `balance` first)."""
        if amount > self.balance:
            raise ValueError(f"the merchant holds {self.balance} cents, not {amount}")
        legs: list[tuple[int, int]] = []
        left = amount
        for shard in sorted(self.shards, key=lambda s: (-s.balance, s.id)):
            if left == 0:
                break
            take = min(shard.balance, left)
            if take:
                legs.append((shard.id, -take))
                left -= take
        return legs


def lock(
    uow: UnitOfWork,
    merchant: MerchantRow,
    *,
    user_ids: list[int] | None = None,
    account_ids: list[int] | None = None,
    codes: list[str] | None = None,
) -> tuple[MerchantFunds, list[LockedAccount]]:
    """Lock the merchant's accounts and the other accounts named, in one statement (the
    lock order): the merchant's funds, and the others in the lock order."""
    ids = uow.merchants.account_ids(merchant.id)
    locked = uow.ledger.accounts(
        user_ids=user_ids, account_ids=[*ids, *(account_ids or [])], codes=codes
    )
    by_id = {account.id: account for account in locked}
    funds = MerchantFunds(tuple(by_id[account_id] for account_id in ids))
    return funds, [account for account in locked if not funds.holds(account.id)]


def held(uow: UnitOfWork, merchant: MerchantRow) -> int:
    """What the merchant holds as this transaction sees it: the shards it locked as they
    are, the others as committed (a payment in flight on another shard is not counted
    yet), as a till payment's notice reads it (ledger_merchant_pay). For a credit that
    locks shard 0 alone, so that it never holds up the payers of the other seven."""
    found = uow.merchants.get(merchant.id)
    assert found is not None  # merchants are never deleted
    return found.balance
