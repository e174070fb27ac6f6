"""What a user reads about their money: balance and the latest movements."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from app.db.repositories.ledger import LedgerCheck, StatementFilter, StatementLine, TierLimits
from app.db.unit_of_work import UnitOfWork
from app.domain.money import nairobi_day
from app.errors import NotFound

MINI_STATEMENT_LINES = 9
HISTORY_PAGE_MAX = 100


@dataclass(frozen=True)
class WalletSummary:
    balance: int  # cents
    limits: TierLimits
    sent_today: int  # cents out today (Nairobi day), counted against the daily limit
    sent_30_days: int  # cents out over the 30 days ending today

    @property
    def daily_remaining(self) -> int:
        return max(0, self.limits.daily - self.sent_today)

    @property
    def rolling_30_days_remaining(self) -> int:
        return max(0, self.limits.rolling_30_days - self.sent_30_days)


def balance(uow: UnitOfWork, *, user_id: int) -> int:
    """The wallet's balance in cents; raises NotFound."""
    with uow:
        found = uow.ledger.wallet_balance(user_id)
    if found is None:
        raise NotFound("no wallet for this user")
    return found


def wallet_summary(uow: UnitOfWork, *, user_id: int, now: datetime | None = None) -> WalletSummary:
    """The wallet's balance and what its tier still lets it send; raises NotFound."""
    today = nairobi_day(now or datetime.now(UTC))
    with uow:
        found = uow.ledger.accounts(user_ids=[user_id], for_update=False)
        if not found or found[0].limits is None:
            raise NotFound("no wallet for this user")
        account = found[0]
        sent_today, sent_30_days = uow.ledger.outflows(account.id, today)
    assert account.limits is not None
    return WalletSummary(account.balance, account.limits, sent_today, sent_30_days)


def history(
    uow: UnitOfWork, *, user_id: int, limit: int, where: StatementFilter
) -> tuple[list[StatementLine], bool]:
    """One page of the wallet's movements matching `where`, newest first, and whether
    older ones match too. Raises NotFound, ValueError for a limit outside 1..100."""
    if not 1 <= limit <= HISTORY_PAGE_MAX:
        raise ValueError(f"limit must be 1..{HISTORY_PAGE_MAX}")
    with uow:
        account_id = uow.ledger.wallet_account_id(user_id)
        if account_id is None:
            raise NotFound("no wallet for this user")
        lines = uow.ledger.statement(account_id, limit + 1, where)
    return lines[:limit], len(lines) > limit


def mini_statement(
    uow: UnitOfWork, *, user_id: int, limit: int = MINI_STATEMENT_LINES
) -> list[StatementLine]:
    """The wallet's latest movements, newest first; raises NotFound."""
    with uow:
        account_id = uow.ledger.wallet_account_id(user_id)
        if account_id is None:
            raise NotFound("no wallet for this user")
        return uow.ledger.statement(account_id, limit)


def check_ledger(uow: UnitOfWork) -> LedgerCheck:
    """Recompute the ledger's invariants from every leg; raises ServiceUnavailable.

    One statement, so one snapshot. A full scan: run it from an operator's request
    or a schedule, never per movement.
    """
    with uow:
        return uow.ledger.check()
