"""What a Stellar payment could not pay is sent back on-chain to its sender, exactly
once, on PayTrace's local Stellar network over real HTTP and real PostgreSQL: exactly
what arrived (a fraction of a cent too), from the treasury; a refunder that crashed
after signing or after submitting sends nothing twice; an envelope the network can
never apply is signed anew; the watcher does not take the refund for an incoming
payment."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from app.db.unit_of_work import UnitOfWork
from app.integrations.stellar import Horizon
from app.services import stellar_refunds
from app.services.incoming_payments import WatchPass
from app.services.stellar_order_links import pay_details, payee_of
from app.services.stellar_refunds import Signer
from app.worker.stellar_refunds import Refunder
from tests.integration.test_stellar_incoming import query
from tests.support.stellar_orders import World, new_order, order_world, pay_on_stellar, watcher

TTL = timedelta(seconds=120)


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
        ttl=TTL,
    )


def signer(world: World) -> Signer:
    return Signer(world.system.treasury, world.system.asset, world.outside.passphrase, TTL)


def kes_stroops(world: World, address: str) -> int:
    account = Horizon(world.outside.url).account(address)
    assert account is not None
    return account.balances[f"{world.system.asset.code}:{world.system.asset.issuer}"]


def refunds(database) -> list[tuple]:
    return query(
        database,
        "SELECT to_address, stroops, status, ledger IS NOT NULL, last_error FROM stellar_refunds"
        " ORDER BY created_at",
    )


def owe_back(world: World, amount: str) -> None:
    """A payment naming an order with the wrong amount, seen by the watcher: owed back."""
    order = new_order(world.database, world.merchant.id, f"o-{amount}")
    details = pay_details(payee_of(world.system), order) | {"amount": amount}
    pay_on_stellar(world.outside, world.sender, details)
    assert watcher(world).poll_once().owed_back == 1


def test_what_is_owed_back_is_sent_back_exactly_once(world):
    before = kes_stroops(world, world.sender.public_key)
    owe_back(world, "249.99")
    owe_back(world, "250.0000001")  # a fraction of a cent goes back whole too
    assert kes_stroops(world, world.sender.public_key) == before - 4_999_900_001

    assert refunder(world).send_owed() == 2
    assert refunder(world).send_owed() == 0  # nothing left to send

    assert kes_stroops(world, world.sender.public_key) == before
    assert refunds(world.database) == [
        (world.sender.public_key, 2_499_900_000, "sent", True, None),
        (world.sender.public_key, 2_500_000_001, "sent", True, None),
    ]
    # The refunds' payments are PayTrace's own: the watcher passes them over.
    assert watcher(world).poll_once() == WatchPass()


def test_a_refunder_that_crashed_after_signing_sends_the_saved_envelope_once(world):
    before = kes_stroops(world, world.sender.public_key)
    owe_back(world, "249.99")
    refund = stellar_refunds.next_refund(UnitOfWork(world.database))
    assert refund is not None
    treasury = Horizon(world.outside.url).account(world.system.treasury.public_key)
    assert treasury is not None
    signed = stellar_refunds.sign(
        UnitOfWork(world.database),
        refund,
        signer(world),
        treasury.sequence,
        datetime.now(UTC),
    )
    # ...the process dies here, before submitting: the next pass sends those bytes.

    assert refunder(world).send_owed() == 1

    [(tx_hash, status)] = query(world.database, "SELECT tx_hash, status FROM stellar_refunds")
    assert (tx_hash, status) == (signed.tx_hash, "sent")
    assert kes_stroops(world, world.sender.public_key) == before


def test_a_refunder_that_crashed_after_submitting_does_not_send_again(world):
    before = kes_stroops(world, world.sender.public_key)
    owe_back(world, "249.99")
    assert refunder(world).send_owed() == 1
    # As if the answer had been lost: the row still says signed, the network applied it.
    with UnitOfWork(world.database) as uow, uow.conn.cursor() as cur:
        cur.execute("UPDATE stellar_refunds SET status = 'signed', ledger = NULL")
        uow.commit()

    assert refunder(world).send_owed() == 1  # the same bytes: applied once, recorded

    assert kes_stroops(world, world.sender.public_key) == before
    assert [row[2] for row in refunds(world.database)] == ["sent"]


def test_an_envelope_the_network_can_never_apply_is_signed_anew(world):
    before = kes_stroops(world, world.sender.public_key)
    owe_back(world, "249.99")
    refund = stellar_refunds.next_refund(UnitOfWork(world.database))
    assert refund is not None
    stale = stellar_refunds.sign(
        UnitOfWork(world.database), refund, signer(world), 0, datetime.now(UTC)
    )

    assert refunder(world).send_owed() == 1  # tx_bad_seq, not on the ledger: signed anew

    [(tx_hash, status)] = query(world.database, "SELECT tx_hash, status FROM stellar_refunds")
    assert status == "sent" and tx_hash != stale.tx_hash
    assert kes_stroops(world, world.sender.public_key) == before
