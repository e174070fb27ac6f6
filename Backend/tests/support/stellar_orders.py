"""A merchant, PayTrace's local Stellar network with PayTrace's accounts on it, and an
outside sender holding KES: the world in which pay orders are paid on Stellar
(tests/integration/test_stellar_order_payments.py, test_stellar_refunds.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

from stellar_sdk import Keypair

from app.config import Settings
from app.db.pool import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.merchants import FeeRule
from app.domain.records.merchants import MerchantRow
from app.integrations.stellar import Horizon
from app.services import merchants, orders
from app.services.custody import SystemAccounts
from app.worker.incoming import IncomingWatcher
from tests.integration.test_stellar_incoming import Outside
from tests.support.merchants import application
from tests.support.stellar import custody_settings, local_network, prepared_system

RULE = FeeRule(50, 100, 20_000)
AMOUNT = 250_00
FEE = RULE.fee_for(AMOUNT)  # 125


class World(NamedTuple):
    database: Database
    merchant: MerchantRow
    outside: Outside
    sender: Keypair
    system: SystemAccounts


@contextmanager
def order_world(settings: Settings, database: Database, data_dir: Path) -> Iterator[World]:
    """A merchant (fee RULE), the network, and a sender funded with KES 5,000."""
    with local_network(data_dir, close_interval_s=0.05) as net:
        custody = custody_settings(settings, net.url, stellar_channels=2)
        system = prepared_system(custody)
        merchant = merchants.onboard(UnitOfWork(database), application(fee=RULE)).merchant
        outside = Outside(net.url, custody.stellar_network_passphrase, system)
        world = World(database, merchant, outside, outside.account(kes="5000"), system)
        # A first pass stores the watcher's starting cursor (no wallet is active yet,
        # so it starts at the network's newest ledger): what is paid next is watched.
        watcher(world).poll_once()
        yield world


def watcher(world: World, clock=lambda: datetime.now(UTC)) -> IncomingWatcher:
    """A new watcher, as a (re)started worker builds it; `clock` is its time."""
    server = Horizon(world.outside.url).server
    return IncomingWatcher(world.database, server, world.system, interval_s=0.05, clock=clock)


def new_order(
    database,
    merchant_id: int,
    key: str,
    amount: int = AMOUNT,
    minutes: int = 15,
    ago: timedelta = timedelta(0),
):
    """A pay order created `ago` (now by default), to be paid within `minutes`."""
    draft = orders.Draft(
        amount=amount,
        merchant_reference="INV-42",
        description="Sukuma wiki",
        expires_in_minutes=minutes,
    )
    answer = orders.create(UnitOfWork(database), merchant_id, key, draft, datetime.now(UTC) - ago)
    assert answer.status == 201
    return answer.body


def pay_on_stellar(outside: Outside, sender: Keypair, details: dict, memo: str | None = None):
    """What a wallet does with the order's `stellar` block: pay the destination the
    amount of the asset, with the memo."""
    asset_code, amount = details["asset_code"], details["amount"]
    assert asset_code == outside.system.asset.code
    text = details["memo"] if memo is None else memo

    def build(builder):
        builder.append_payment_op(details["destination"], outside.system.asset, amount)
        return builder.add_text_memo(text)

    return outside.submit(outside.envelope(sender, build))
