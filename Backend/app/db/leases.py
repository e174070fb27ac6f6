"""Leases: one process at a time for a worker loop, safe behind a connection pooler.

A lease is a row in `worker_leases`: its name (one per purpose), the process holding
it and when it lapses. `held()` takes a free or lapsed lease, or renews the one this
process holds, in one statement, and answers whether this process holds it now; a
standby process keeps asking. A holder that dies (or stops renewing) loses the lease
when it lapses, and a standby takes over within one lease.

Why rows and not PostgreSQL advisory locks: a session-level advisory lock belongs to a
server connection, and behind PgBouncer in transaction mode a client does not keep its
server connection between transactions; the lock would be handed to, or released
under, whoever gets that connection next. Each `held()` is a transaction of its own,
so it works the same with or without a pooler. The loop must stop its exclusive work
when `held()` answers False, and must call it more often than the lease lasts.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid

from app.db.pool import Database
from app.db.unit_of_work import UnitOfWork
from app.errors import ServiceUnavailable

log = logging.getLogger("paytrace.db")

# One name per purpose, never shared (tests/unit/test_worker_leases.py).
SETTLEMENT = "settlement"
INCOMING = "incoming-watcher"
RECONCILIATION = "reconciliation"
MPESA_RECONCILIATION = "mpesa-reconciliation"

# A loop that renews every few seconds (the settler, the watcher) lets a standby take
# over WORKER_LEASE_TTL_S after it dies; a job that takes the lease for one run and gives it
# back (the reconciliations) holds it long enough for that run.
DEFAULT_TTL_S = 15.0  # WORKER_LEASE_TTL_S
JOB_TTL_S = 900.0


def holder_id() -> str:
    """This process, as other processes and an operator read it: host, pid, a nonce."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease:
    """A named lease taken and renewed through `database`, for as long as this process
    does the work."""

    def __init__(
        self, database: Database, name: str, *, ttl_s: float = DEFAULT_TTL_S, holder: str = ""
    ) -> None:
        self._database = database
        self._name = name
        self._ttl_s = ttl_s
        self._holder = holder or holder_id()
        self._held = False

    @property
    def holder(self) -> str:
        return self._holder

    def held(self) -> bool:
        """True while this process holds the lease (taking it when it is free or lapsed,
        renewing it when it is ours)."""
        try:
            with UnitOfWork(self._database) as uow:
                ours = uow.leases.take_or_renew(self._name, self._holder, self._ttl_s)
                uow.commit()
        except ServiceUnavailable:
            log.warning("lease not renewed: database unavailable", extra={"lease": self._name})
            ours = False
        if ours != self._held:
            log.info(
                "lease taken" if ours else "lease lost or held elsewhere",
                extra={"lease": self._name},
            )
        self._held = ours
        return ours

    def release(self) -> None:
        """Give the lease up now (a standby need not wait for it to lapse)."""
        if not self._held:
            return
        self._held = False
        try:
            with UnitOfWork(self._database) as uow:
                uow.leases.release(self._name, self._holder)
                uow.commit()
        except ServiceUnavailable:
            log.warning("lease not released: it lapses on its own", extra={"lease": self._name})
