"""Worker leases on PostgreSQL: one holder at a time, renewed by its holder, taken over
by a standby once it lapses, given back at once on release."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from app.db import leases
from app.db.leases import Lease
from app.db.unit_of_work import UnitOfWork
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


def test_a_holder_whose_lease_was_taken_meanwhile_stops_though_it_is_free_again(
    clean_database,
):
    stalled = Lease(clean_database, leases.SETTLEMENT, ttl_s=0.3)
    standby = Lease(clean_database, leases.SETTLEMENT, ttl_s=0.3)
    assert stalled.held() is True and stalled.generation == 1
    time.sleep(0.4)  # stalled (a long pause): its lease lapses
    assert standby.held() is True and standby.generation == 2  # the standby acts as holder
    time.sleep(0.4)  # and dies in turn: the lease is free again

    # Back, the stalled holder must not carry on as if it had held the lease throughout:
    # its renewal names generation 1, which is gone.
    assert stalled.held() is False
    # Its next ask takes the lease afresh, under a new number (its loop starts over).
    assert stalled.held() is True and stalled.generation == 3
    assert rows(clean_database, "SELECT holder, generation FROM worker_leases") == [
        (stalled.holder, 3)
    ]


def test_a_stale_holder_can_neither_renew_nor_release_the_new_holders_lease(clean_database):
    # Two holders under one holder name (a restarted process that reuses it): only the
    # generation tells the stale one from the current one.
    stale = Lease(clean_database, leases.INCOMING, ttl_s=0.3, holder="host:1")
    current = Lease(clean_database, leases.INCOMING, ttl_s=5.0, holder="host:1")
    assert stale.held() is True
    time.sleep(0.4)
    assert current.held() is True and current.generation == 2

    assert stale.held() is False  # its renewal is refused
    stale.release()  # nothing of the current holder's is given up
    with UnitOfWork(clean_database) as uow:
        assert uow.leases.renew(leases.INCOMING, "host:1", 1, 5.0) is False
        assert uow.leases.release(leases.INCOMING, "host:1", 1) is False
        uow.commit()
    assert current.held() is True and current.generation == 2
    other = Lease(clean_database, leases.INCOMING)
    assert other.held() is False

    current.release()  # the holder gives it back: the next takes it at once, number 3
    assert other.held() is True and other.generation == 3


def test_renewals_keep_the_generation_they_were_taken_under(clean_database):
    holder = Lease(clean_database, leases.RECONCILIATION, ttl_s=5.0)
    assert holder.held() is True
    # A renewal is not an acquisition: the number moves only when the lease changes hands.
    assert holder.held() is True and holder.generation == 1
