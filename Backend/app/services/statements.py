"""What a user reads about their money: balance and the latest movements."""

from __future__ import annotations

from app.db.repositories.ledger import LedgerCheck, StatementLine
from app.db.unit_of_work import UnitOfWork
from app.errors import NotFound

MINI_STATEMENT_LINES = 9


def balance(uow: UnitOfWork, *, user_id: int) -> int:
    """The wallet's balance in cents; raises NotFound."""
    with uow:
        found = uow.ledger.wallet_balance(user_id)
    if found is None:
        raise NotFound("no wallet for this user")
    return found


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
