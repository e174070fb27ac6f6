"""Merchants under concurrency, on PostgreSQL: many operators at once never make a third
live key, nor two merchants with one till."""

from __future__ import annotations

import threading
from collections.abc import Callable

from app.db.unit_of_work import UnitOfWork
from app.domain.merchants import MAX_LIVE_KEYS
from app.errors import TillTaken, TooManyKeys
from app.services import merchant_keys, merchants
from app.services.custody import SecretBox
from tests.integration.test_ledger_concurrency import run_together
from tests.security.admin_audit_world import query
from tests.support.merchants import application

THREADS = 8


def at_once(work: Callable[[], object]) -> list[object]:
    """Run work in THREADS threads released together; each one's result or exception."""
    start = threading.Barrier(THREADS)
    results: list[object] = []
    lock = threading.Lock()

    def run() -> None:
        start.wait()
        try:
            outcome: object = work()
        except Exception as exc:
            outcome = exc
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_keys_issued_at_once_stop_at_the_live_cap(settings, clean_database):
    merchant = merchants.onboard(UnitOfWork(clean_database), application()).merchant
    box = SecretBox.from_settings(settings)

    results = at_once(lambda: merchant_keys.issue_key(UnitOfWork(clean_database), box, merchant.id))

    issued = [r for r in results if isinstance(r, merchant_keys.IssuedKey)]
    refused = [r for r in results if isinstance(r, TooManyKeys)]
    assert (len(issued), len(refused)) == (MAX_LIVE_KEYS, THREADS - MAX_LIVE_KEYS), results
    live = query(clean_database, "SELECT count(*) FROM merchant_api_keys WHERE revoked_at IS NULL")
    assert live == [(MAX_LIVE_KEYS,)]


def test_one_onboarding_sent_at_once_makes_one_merchant_and_its_accounts(settings, clean_database):
    results = at_once(lambda: merchants.onboard(UnitOfWork(clean_database), application()))

    assert all(isinstance(r, merchants.Onboarded) for r in results), results
    assert len({r.merchant.id for r in results}) == 1  # type: ignore[union-attr]
    assert sum(not r.replayed for r in results) == 1  # type: ignore[union-attr]
    # Its eight shards (migration 0062), each listed once.
    accounts = "SELECT count(*) FROM ledger_accounts WHERE kind = 'merchant'"
    assert query(clean_database, accounts) == [(8,)]
    listed = "SELECT count(DISTINCT account_id), count(DISTINCT shard) FROM merchant_accounts"
    assert query(clean_database, listed) == [(8, 8)]


def test_two_merchants_racing_for_one_till_one_wins(settings, clean_database):
    names = iter(f"SHOP {n}" for n in range(THREADS))
    lock = threading.Lock()

    def onboard_another() -> merchants.Onboarded:
        with lock:
            name = next(names)
        return merchants.onboard(UnitOfWork(clean_database), application(display_name=name))

    results = at_once(onboard_another)

    made = [r for r in results if isinstance(r, merchants.Onboarded)]
    assert len(made) == 1 and not made[0].replayed, results
    assert sum(isinstance(r, TillTaken) for r in results) == THREADS - 1


def test_edits_of_different_parts_of_the_fee_at_once_both_hold(clean_database):
    """Each edit merges its part with the rule as it is under the merchant's lock: the
    bps changed by one operator and the cap by another, at the same moment, both stay."""
    merchant = merchants.onboard(UnitOfWork(clean_database), application("512345")).merchant
    for round_ in range(4):
        bps, cap = 60 + round_, 30_000 + round_
        outcomes = run_together(
            [
                lambda b=bps: merchants.update(
                    UnitOfWork(clean_database), merchant.id, merchants.Changes(fee_bps=b)
                ),
                lambda c=cap: merchants.update(
                    UnitOfWork(clean_database), merchant.id, merchants.Changes(fee_max_cents=c)
                ),
            ]
        )
        assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
        now = merchants.get(UnitOfWork(clean_database), merchant.id)
        assert now is not None and (now.fee_bps, now.fee_max_cents) == (bps, cap)
