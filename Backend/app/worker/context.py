"""How the worker hands its services a unit of work: the one place it builds one.

Every loop gets a factory over the worker's Database and passes a fresh UnitOfWork to
each service call, as the API hands `runtime.uow()`: the service opens `with uow:`,
so one service call is one transaction, and the loops themselves never see SQL.
"""

from __future__ import annotations

from collections.abc import Callable

from app.db.pool import Database
from app.db.unit_of_work import UnitOfWork

UowFactory = Callable[[], UnitOfWork]


def uow_factory(database: Database) -> UowFactory:
    """A factory of fresh units of work over database (one per service call)."""

    def uow() -> UnitOfWork:
        return UnitOfWork(database)

    return uow
