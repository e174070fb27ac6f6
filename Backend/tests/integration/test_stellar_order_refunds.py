"""Refunds of pay orders paid on Stellar, sent back on-chain to the sender exactly once,
on PayTrace's local Stellar network over real HTTP and real PostgreSQL: each refund
(a partial one, and a second) its own on-chain payment from the treasury, held from the
merchant's account when asked, succeeded (the order moved) once the network applied it;
a refunder that lost the answer records it once; a payment the network refuses for
good gives the merchant its money back; two refunds at once never exceed what was
paid."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from app.db.unit_of_work import UnitOfWork
from app.errors import NotRefundable
from app.integrations.stellar import Horizon
from app.services import merchant_refunds, merchants
from app.services.incoming_payments import WatchPass
from app.services.stellar_order_links import pay_details, payee_of
from app.worker.stellar_refunds import Refunder
from tests.integration.test_ledger_concurrency import run_together
from tests.integration.test_stellar_incoming import query
from tests.support.stellar import books
from tests.support.stellar_orders import (
    AMOUNT,
    FEE,
    World,
    new_order,
    order_world,
    pay_on_stellar,
    watcher,
)
from tests.support.wallets import check_ledger

KES = 100
STROOPS_PER_KES = 10_000_000
HELD = AMOUNT - FEE  # the merchant's account once the order is paid


@pytest.fixture
def world(settings, clean_database, tmp_path) -> Iterator[World]:
    with order_world(settings, clean_database, tmp_path / "net") as world:
        yield world


def refunder(world: World) -> Refunder:
    return Refunder(
        world.database,
        Horizon(world.outside.url),
        world.system,
        passphrase=world.outside.passphrase,
        ttl=timedelta(seconds=120),
    )


def kes_stroops(world: World, address: str) -> int:
    account = Horizon(world.outside.url).account(address)
    assert account is not None
    return account.balances.get(f"{world.system.asset.code}:{world.system.asset.issuer}", 0)


def paid_order(world: World, sender=None) -> tuple[dict, str]:
    """An order paid on Stellar by `sender` (the world's), and its payment's reference."""
    order = new_order(world.database, world.merchant.id, f"o-{datetime.now(UTC).timestamp()}")
    pay_on_stellar(
        world.outside, sender or world.sender, pay_details(payee_of(world.system), order)
    )
    assert watcher(world).poll_once().order_paid == 1
    [(reference,)] = query(
        world.database,
        "SELECT t.reference FROM merchant_payments p"
        " JOIN journal_transactions t ON t.id = p.transaction_id WHERE p.order_id = %s",
        order["id"],
    )
    return order, reference


def refund(world: World, reference: str, amount: int | None, key: str):
    ask = merchant_refunds.RefundAsk(reference, amount)
    return merchant_refunds.refund(
        UnitOfWork(world.database), world.merchant.id, key, ask, datetime.now(UTC)
    )


def balance(world: World) -> int:
    found = merchants.get(UnitOfWork(world.database), world.merchant.id)
    assert found is not None
    return found.balance


def status_of(world: World, public_id: str) -> str:
    return merchant_refunds.get(UnitOfWork(world.database), world.merchant.id, public_id).status


def treasury_books(world: World) -> tuple[int, int | None]:
    """The treasury's KES in the ledger (what it backs) and on-chain, in cents."""
    ledger, on_chain = books(world.database, Horizon(world.outside.url), world.system)
    treasury = world.system.treasury.public_key
    return ledger[treasury], on_chain[treasury]


def order_status(world: World, order_id: int) -> str:
    return query(world.database, "SELECT status FROM pay_orders WHERE id = %s", order_id)[0][0]


def test_two_partial_refunds_are_each_sent_back_on_chain_once(world):
    order, reference = paid_order(world)
    before = kes_stroops(world, world.sender.public_key)

    first = refund(world, reference, 100 * KES, "r1")
    second = refund(world, reference, 50 * KES, "r2")

    assert (first.status, first.body["status"], second.body["status"]) == (
        201,
        "pending",
        "pending",
    )
    # Held at once from the merchant's account; the order moves when the network applies.
    assert balance(world) == HELD - 150 * KES
    assert order_status(world, order["id"]) == "paid"
    keyed = query(
        world.database,
        "SELECT s.stroops, s.to_address, s.operation_id FROM stellar_refunds s"
        " JOIN merchant_refunds r ON r.id = s.merchant_refund_id ORDER BY s.id",
    )
    assert keyed == [
        (100 * STROOPS_PER_KES, world.sender.public_key, None),
        (50 * STROOPS_PER_KES, world.sender.public_key, None),
    ]

    # Held, not yet sent: the treasury still holds it on-chain and in the ledger.
    assert treasury_books(world) == (AMOUNT, AMOUNT)  # the merchant's and its fee

    assert refunder(world).send_owed() == 2
    assert refunder(world).send_owed() == 0  # nothing left to send

    assert kes_stroops(world, world.sender.public_key) == before + 150 * STROOPS_PER_KES
    assert [status_of(world, r.body["id"]) for r in (first, second)] == ["succeeded"] * 2
    assert order_status(world, order["id"]) == "partially_refunded"
    assert balance(world) == HELD - 150 * KES
    # Each sent movement is settled by its own refund's transaction: nothing to submit.
    settled = query(
        world.database,
        "SELECT s.status, s.origin, s.tx_hash = r.tx_hash FROM stellar_settlements s"
        " JOIN journal_transactions t ON t.id = s.transaction_id"
        " JOIN merchant_refunds m ON m.refund_transaction_id = t.id"
        " JOIN stellar_refunds r ON r.merchant_refund_id = m.id"
        " WHERE t.kind = 'stellar_order_refund_sent'",
    )
    assert settled == [("settled", "incoming", True)] * 2
    events = query(world.database, "SELECT type FROM merchant_events ORDER BY id")
    assert [e for (e,) in events if e.startswith("refund.")] == ["refund.succeeded"] * 2
    # Sent: out of the treasury on-chain and in the ledger alike.
    assert treasury_books(world) == (AMOUNT - 150 * KES, AMOUNT - 150 * KES)
    # The watcher passes over PayTrace's own refunds.
    assert watcher(world).poll_once() == WatchPass()
    assert check_ledger(world.database).sound


def test_a_refunder_that_lost_the_networks_answer_records_the_refund_once(world):
    _, reference = paid_order(world)
    before = kes_stroops(world, world.sender.public_key)
    made = refund(world, reference, 100 * KES, "r1")
    assert refunder(world).send_owed() == 1
    # As if the answer had been lost: the row still says signed, the network applied it.
    with UnitOfWork(world.database) as uow, uow.conn.cursor() as cur:
        cur.execute("UPDATE stellar_refunds SET status = 'signed', ledger = NULL")
        uow.commit()

    assert refunder(world).send_owed() == 1  # the same bytes: applied once, recorded

    assert kes_stroops(world, world.sender.public_key) == before + 100 * STROOPS_PER_KES
    assert status_of(world, made.body["id"]) == "succeeded"
    sent = query(
        world.database,
        "SELECT count(*) FROM journal_transactions WHERE kind = 'stellar_order_refund_sent'",
    )
    assert sent == [(1,)]
    assert balance(world) == HELD - 100 * KES
    assert check_ledger(world.database).sound


def test_a_refund_the_network_refuses_for_good_gives_the_merchant_its_money_back(world):
    # A sender that pays all it holds, then drops its KES trustline: nothing can reach it.
    gone = world.outside.account(kes="250")
    order, reference = paid_order(world, sender=gone)
    world.outside.submit(
        world.outside.envelope(
            gone, lambda b: b.append_change_trust_op(world.system.asset, limit="0")
        )
    )
    made = refund(world, reference, 100 * KES, "r1")
    assert balance(world) == HELD - 100 * KES

    assert refunder(world).send_owed() == 0

    shown = merchant_refunds.get(UnitOfWork(world.database), world.merchant.id, made.body["id"])
    assert shown.status == "failed" and "op_no_trust" in (shown.failure_reason or "")
    assert balance(world) == HELD
    assert order_status(world, order["id"]) == "paid"
    assert query(world.database, "SELECT refunded_amount FROM merchant_payments") == [(0,)]
    events = query(world.database, "SELECT type FROM merchant_events ORDER BY id")
    assert [e for (e,) in events if e.startswith("refund.")] == ["refund.failed"]
    assert check_ledger(world.database).sound


def test_two_refunds_asked_at_once_never_exceed_what_was_paid(world):
    _, reference = paid_order(world)

    outcomes = run_together(
        [
            lambda: refund(world, reference, 150 * KES, "a"),
            lambda: refund(world, reference, 150 * KES, "b"),
        ]
    )

    made = [o for o in outcomes if not isinstance(o, Exception)]
    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert len(made) == 1 and made[0].body["status"] == "pending"
    assert [(type(e), e.code) for e in refused] == [(NotRefundable, "exceeds_refundable")]
    assert balance(world) == HELD - 150 * KES
    assert query(world.database, "SELECT count(*) FROM stellar_refunds") == [(1,)]
    assert check_ledger(world.database).sound
