"""Worker leases on PostgreSQL: one holder at a time, renewed by its holder, taken over
by a standby once it lapses, given back at once on release."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from app.db import leases
from app.db.leases import Lease
from tests.support.mpesa import rows


def test_one_of_many_processes_asking_at_once_holds_the_lease(clean_database):
    contenders = [Lease(clean_database, leases.SETTLEMENT) for _ in range(12)]
    with ThreadPoolExecutor(len(contenders)) as pool:
        answers = list(pool.map(lambda lease: lease.held(), contenders))

    assert answers.count(True) == 1
    winner = contenders[answers.index(True)]
    assert rows(clean_database, "SELECT name, holder FROM worker_leases") == [
        (leases.SETTLEMENT, winner.holder)
    ]
    # The holder renews it; nobody else gets it while it is renewed.
    assert winner.held() is True
    assert [c.held() for c in contenders if c is not winner] == [False] * 11


def test_a_standby_takes_over_once_the_holder_stops_renewing(clean_database):
    dead = Lease(clean_database, leases.INCOMING, ttl_s=0.3)
    standby = Lease(clean_database, leases.INCOMING, ttl_s=0.3)
    assert dead.held() is True
    assert standby.held() is False
    time.sleep(0.4)  # the holder died: it renews no more

    assert standby.held() is True
    assert dead.held() is False  # back from the dead, it finds the lease taken
    (acquired, renewed), = rows(
        clean_database, "SELECT acquired_at, renewed_at FROM worker_leases"
    )  # fmt: skip
    assert acquired <= renewed


def test_release_hands_the_lease_over_at_once_and_only_the_holders(clean_database):
    holder = Lease(clean_database, leases.RECONCILIATION)
    other = Lease(clean_database, leases.RECONCILIATION)
    assert holder.held() is True
    other.release()  # not its lease: nothing happens
    assert other.held() is False

    holder.release()

    assert other.held() is True


def test_each_purpose_is_a_lease_of_its_own(clean_database):
    settler = Lease(clean_database, leases.SETTLEMENT)
    watcher = Lease(clean_database, leases.INCOMING)
    assert settler.held() is True and watcher.held() is True
