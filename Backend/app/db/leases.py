"""Leases: one process at a time for a worker loop, safe behind a connection pooler.

A lease is a row in `worker_leases`: its name (one per purpose), the process holding
it, when it lapses, and its generation. `held()` takes a free, lapsed or released lease
(a new generation: one more than the last), or renews the one this process took, and
answers whether this process holds it now; a standby process keeps asking. A holder that
dies (or stops renewing) loses the lease when it lapses, and a standby takes over within
one lease.

The generation is the fencing token. A renewal and a release name the generation their
holder took, so a holder that stalled past its lease while another took it over (even
if that one has died since and the lease is free again) is refused: `held()` answers
False once, the loop stops acting as holder and drops what it knew (the settler drains
and resumes from the database), and its next `held()` takes the lease afresh under a
new generation. A renewal the database missed (unavailable) keeps the generation: if
nobody took the lease meanwhile, the next renewal goes on.

Why rows and not PostgreSQL advisory locks: a session-level advisory lock belongs to a
server connection, and behind PgBouncer in transaction mode a client does not keep its
server connection between transactions; the lock would be handed to, or released
under, whoever gets that connection next. Each `held()` is a transaction of its own,
so it works the same with or without a pooler. The loop must stop its exclusive work
when `held()` answers False, and must call it more often than the lease lasts. The SQL
is app/db/repositories/leases.py.
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
        # The acquisition this process made (None: it holds none, or was refused).
        self._generation: int | None = None

    @property
    def holder(self) -> str:
        return self._holder

    @property
    def generation(self) -> int | None:
        """The fencing number of the acquisition this process holds, or None."""
        return self._generation if self._held else None

    def held(self) -> bool:
        """True while this process holds the lease (taking it when it is free or lapsed,
        renewing the acquisition it made). False once when that acquisition was taken
        over meanwhile: the caller stops acting as holder; the next call takes afresh."""
        try:
            with UnitOfWork(self._database) as uow:
                if self._generation is None:
                    self._generation = uow.leases.take(self._name, self._holder, self._ttl_s)
                    ours = self._generation is not None
                else:
                    ours = uow.leases.renew(self._name, self._holder, self._generation, self._ttl_s)
                    if not ours:
                        log.warning(
                            "lease taken over meanwhile: stopping as its holder",
                            extra={"lease": self._name, "generation": self._generation},
                        )
                        self._generation = None
                uow.commit()
        except ServiceUnavailable:
            # The generation is kept: if nobody took the lease, the next renewal goes on.
            log.warning("lease not renewed: database unavailable", extra={"lease": self._name})
            ours = False
        if ours != self._held:
            log.info(
                "lease taken" if ours else "lease lost or held elsewhere",
                extra={"lease": self._name, "generation": self._generation},
            )
        self._held = ours
        return ours

    def release(self) -> None:
        """Give the lease up now (a standby need not wait for it to lapse); nothing when
        this process's acquisition was taken over since."""
        generation, self._generation, self._held = self._generation, None, False
        if generation is None:
            return
        try:
            with UnitOfWork(self._database) as uow:
                released = uow.leases.release(self._name, self._holder, generation)
                uow.commit()
        except ServiceUnavailable:
            log.warning("lease not released: it lapses on its own", extra={"lease": self._name})
            return
        if not released:
            log.info("lease not ours any more: nothing released", extra={"lease": self._name})
