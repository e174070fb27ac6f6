"""Pay orders paid from any Stellar wallet, on PayTrace's local Stellar network over real
HTTP and real PostgreSQL: KES to the treasury with the order's code as memo (or to the
treasury's muxed address) pays the order once (the merchant credited less its fee, the
order paid, `order.paid`, the merchant's SMS); a replayed watcher pass takes nothing
twice; a wrong amount, a late, canceled or unknown order is owed back to the sender,
never credited; and a Stellar payment racing a wallet payment of one order pays it once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from stellar_sdk import MuxedAccount

from app.api.merchant.payments import PaymentOut
from app.db.unit_of_work import UnitOfWork
from app.errors import NotRefundable, OrderNotPayable
from app.integrations.stellar import Horizon
from app.services import merchant_refunds, merchants, orders
from app.services.incoming_payments import WatchPass
from app.services.merchant_payments import payments as merchant_payments
from app.services.merchant_payments.payments import MerchantPaymentRequest
from app.services.stellar_order_links import pay_details, payee_from_settings, payee_of
from app.worker.stellar_refunds import Refunder
from tests.conftest import LiveServer
from tests.integration.test_ledger_concurrency import run_together
from tests.integration.test_stellar_incoming import incoming, query
from tests.support.stellar import custody_settings, local_network, prepared_system
from tests.support.stellar_orders import (
    AMOUNT,
    FEE,
    World,
    new_order,
    order_world,
    pay_on_stellar,
    watcher,
)
from tests.support.wallets import (
    check_ledger,
    fund,
    phone_of,
    register,
    registration_secrets,
    wallet_balance,
)


@pytest.fixture
def custody(settings, tmp_path):
    with local_network(tmp_path / "net", close_interval_s=0.05) as net:
        custody = custody_settings(settings, net.url, stellar_channels=2)
        yield custody, prepared_system(custody), net.url


@pytest.fixture
def world(settings, clean_database, tmp_path) -> Iterator[World]:
    with order_world(settings, clean_database, tmp_path / "net") as world:
        yield world


def order_state(database, order_id: int) -> tuple:
    return query(
        database,
        "SELECT status, paid_amount, payment_transaction_id FROM pay_orders WHERE id = %s",
        order_id,
    )[0]


def merchant_balance(database, merchant_id: int) -> int:
    row = merchants.get(UnitOfWork(database), merchant_id)
    assert row is not None
    return row.balance


def taken(database) -> list:
    """What the watcher recorded of payments to the treasury naming an order."""
    return [p for p in incoming(database) if p.outcome in ("order_paid", "owed_back")]


def test_the_api_shows_the_payee_the_watcher_watches(custody):
    settings, system, _ = custody
    # The API opens only the treasury's and the issuer's seeds, for their addresses.
    assert payee_from_settings(settings) == payee_of(system)
    assert payee_of(system).address == system.treasury.public_key


def test_an_order_paid_by_memo_is_paid_once_to_its_merchant(world):
    database, merchant, outside, sender, system = world
    order = new_order(database, merchant.id, "o1")
    details = pay_details(payee_of(system), order)
    assert details is not None and details["destination"] == system.treasury.public_key
    tx_hash = pay_on_stellar(outside, sender, details)

    assert watcher(world).poll_once() == WatchPass(seen=1, order_paid=1)

    [paid] = taken(database)
    assert (paid.outcome, paid.order_id, paid.amount, paid.tx_hash, paid.reason) == (
        "order_paid",
        order["id"],
        AMOUNT,
        tx_hash,
        None,
    )
    assert order_state(database, order["id"]) == ("paid", AMOUNT, paid.transaction_id)
    assert merchant_balance(database, merchant.id) == AMOUNT - FEE
    [(kind, channel, fee, note)] = query(
        database,
        "SELECT kind, channel, fee, note FROM journal_transactions WHERE id = %s",
        paid.transaction_id,
    )
    assert (kind, channel, fee) == ("stellar_order_payment", "system", FEE)
    assert note == f"MAMA MBOGA (order {order['code']}) Stellar {sender.public_key}"
    legs = query(
        database,
        "SELECT coalesce(a.code, a.kind), l.amount FROM journal_legs l"
        " JOIN ledger_accounts a ON a.id = l.account_id WHERE l.transaction_id = %s"
        " ORDER BY l.id",
        paid.transaction_id,
    )
    assert sorted(amount for _, amount in legs) == sorted([-AMOUNT, AMOUNT, -FEE, FEE])
    assert ("stellar_clearing", -AMOUNT) in legs
    # Already on-chain (in the treasury, which holds merchants' money): nothing to settle.
    assert query(
        database,
        "SELECT status, origin, tx_hash FROM stellar_settlements WHERE transaction_id = %s",
        paid.transaction_id,
    ) == [("settled", "incoming", tx_hash)]
    [(message,)] = query(
        database,
        "SELECT payload->>'message' FROM outbox WHERE kind = 'sms'"
        " AND payload->>'template' = 'merchant_order_paid_on_stellar'",
    )
    assert f"order {order['code']} (Sukuma wiki, INV-42) paid, KES 250" in message
    assert f"{sender.public_key[:4]}...{sender.public_key[-4:]}" in message
    assert query(database, "SELECT type FROM merchant_events WHERE type LIKE 'order.%%'") == [
        ("order.paid",)
    ]
    assert check_ledger(database).sound


def test_an_order_paid_on_stellar_is_listed_with_its_sender(world):
    database, merchant, outside, sender, system = world
    order = new_order(database, merchant.id, "o1")
    tx_hash = pay_on_stellar(outside, sender, pay_details(payee_of(system), order))
    assert watcher(world).poll_once() == WatchPass(seen=1, order_paid=1)
    [paid] = taken(database)

    rows, more = merchants.payments_page(UnitOfWork(database), merchant.id, limit=10)

    assert more is False
    [payment] = [PaymentOut.of(row).model_dump() for row in rows]
    assert {k: payment[k] for k in ("amount", "fee", "channel", "rail_receipt")} == {
        "amount": AMOUNT,
        "fee": FEE,
        "channel": "stellar",
        "rail_receipt": tx_hash,
    }
    assert payment["payer"] == {
        "name": None,
        "phone": None,
        "stellar_address": sender.public_key,
    }
    assert query(
        database,
        "SELECT transaction_id, order_id, payer_user_id FROM merchant_payments",
    ) == [(paid.transaction_id, order["id"], None)]
    # Refundable by its listed reference, back on-chain (test_stellar_order_refunds.py):
    # all of it is more than the merchant holds (its fee was taken), nothing written.
    ask = merchant_refunds.RefundAsk(payment["reference"], None)
    with pytest.raises(NotRefundable) as refused:
        merchant_refunds.refund(UnitOfWork(database), merchant.id, "r1", ask, datetime.now(UTC))
    assert refused.value.code == "insufficient_merchant_balance"
    assert query(database, "SELECT count(*) FROM merchant_refunds") == [(0,)]
    assert merchant_balance(database, merchant.id) == AMOUNT - FEE


def test_a_replayed_or_duplicated_watcher_pass_takes_the_payment_once(world):
    database, merchant, outside, sender, system = world
    order = new_order(database, merchant.id, "o1")
    pay_on_stellar(outside, sender, pay_details(payee_of(system), order))
    first = watcher(world)
    assert first.poll_once().order_paid == 1
    start = query(database, "SELECT cursor FROM stellar_cursors")[0][0]

    # The cursor set back (a restored backup, a watcher replaying a page): seen before.
    with UnitOfWork(database) as uow, uow.conn.cursor() as cur:
        cur.execute("UPDATE stellar_cursors SET cursor = '0'")
        uow.commit()
    again = run_together([watcher(world).poll_once for _ in range(2)])

    assert all(isinstance(done, WatchPass) and done.order_paid == 0 for done in again)
    assert len(taken(database)) == 1
    assert merchant_balance(database, merchant.id) == AMOUNT - FEE
    assert query(database, "SELECT cursor FROM stellar_cursors")[0][0] == start
    assert check_ledger(database).sound


def test_a_watcher_whose_clock_runs_behind_the_apis_still_pays_the_order(world):
    database, merchant, outside, sender, system = world
    order = new_order(database, merchant.id, "o1")
    pay_on_stellar(outside, sender, pay_details(payee_of(system), order))
    behind = watcher(world, clock=lambda: datetime.now(UTC) - timedelta(minutes=1))

    assert behind.poll_once() == WatchPass(seen=1, order_paid=1)

    [(status, paid_at, created_at)] = query(
        database, "SELECT status, paid_at, created_at FROM pay_orders WHERE id = %s", order["id"]
    )
    # Paid as of its ledger's close time, never before the order was created.
    assert status == "paid" and created_at <= paid_at <= datetime.now(UTC)


def test_a_muxed_address_pays_the_order_it_names(world):
    database, merchant, outside, sender, system = world
    order = new_order(database, merchant.id, "o1")
    muxed = pay_details(payee_of(system), order)["muxed_destination"]
    assert MuxedAccount.from_account(muxed).account_muxed_id == order["id"]

    outside.pay(sender, muxed, "250.00")
    assert watcher(world).poll_once().order_paid == 1

    assert order_state(database, order["id"])[0] == "paid"
    assert merchant_balance(database, merchant.id) == AMOUNT - FEE


def test_what_cannot_pay_an_order_is_owed_back_never_credited(world):
    database, merchant, outside, sender, system = world
    payee = payee_of(system)
    short = new_order(database, merchant.id, "short")
    canceled = new_order(database, merchant.id, "canceled")
    orders.cancel(UnitOfWork(database), merchant.id, canceled["id"], "c", datetime.now(UTC))
    pay_on_stellar(outside, sender, pay_details(payee, short) | {"amount": "249.99"})
    pay_on_stellar(outside, sender, pay_details(payee, short) | {"amount": "250.01"})
    pay_on_stellar(outside, sender, pay_details(payee, canceled))
    pay_on_stellar(outside, sender, pay_details(payee, short), memo="48213576")  # no such code
    pay_on_stellar(outside, sender, pay_details(payee, short) | {"amount": "250.0000001"})
    for mux_id in (2**64 - 1, short["id"] + 1000):  # no such order (nor a BIGINT)
        outside.pay(sender, MuxedAccount(payee.address, mux_id).account_muxed, "250.00")

    assert watcher(world).poll_once() == WatchPass(seen=7, owed_back=7)

    owed = taken(database)
    assert [(p.outcome, p.transaction_id, p.from_address) for p in owed] == [
        ("owed_back", None, sender.public_key)
    ] * 7
    assert [p.reason for p in owed] == [
        f"wrong amount: paid KES 249.99, order {short['code']} is KES 250.00",
        f"wrong amount: paid KES 250.01, order {short['code']} is KES 250.00",
        f"order {canceled['code']} is canceled",
        "no order with code 48213576",
        "amount not whole cents: 250.0000001 KES",
        f"no order with order id {2**64 - 1}",
        f"no order with order id {short['id'] + 1000}",
    ]
    assert [p.order_id for p in owed] == [
        short["id"],
        short["id"],
        canceled["id"],
        None,
        short["id"],
        None,
        None,
    ]
    assert order_state(database, short["id"]) == ("awaiting_payment", None, None)
    assert merchant_balance(database, merchant.id) == 0


def test_an_operator_lists_what_is_not_yet_sent_back(world, live_settings):
    from app.api.app import create_app

    database, merchant, outside, sender, system = world
    order = new_order(database, merchant.id, "o1")
    pay_on_stellar(outside, sender, pay_details(payee_of(system), order) | {"amount": "249.99"})
    pay_on_stellar(outside, sender, pay_details(payee_of(system), order), memo="11111111")
    watcher(world).poll_once()
    assert live_settings.admin_token is not None
    headers = {"Authorization": f"Bearer {live_settings.admin_token.get_secret_value()}"}
    refunder = Refunder(
        database,
        Horizon(outside.url),
        system,
        passphrase=outside.passphrase,
        ttl=timedelta(seconds=60),
    )

    with LiveServer(create_app(live_settings), live_settings.port) as server:
        url = f"{server.url}/api/v1/admin/stellar/owed-back"
        answer = httpx.get(url, headers=headers, timeout=10)
        assert refunder.send_owed() == 2
        after = httpx.get(url, headers=headers, timeout=10)

    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    assert [(i["from_address"], i["amount"], i["order_id"], i["refund_status"]) for i in items] == [
        (sender.public_key, 24_999, order["id"], "pending"),
        (sender.public_key, AMOUNT, None, "pending"),
    ]
    assert (
        items[0]["reason"] == f"wrong amount: paid KES 249.99, order {order['code']} is KES 250.00"
    )
    assert items[1]["reason"] == "no order with code 11111111"
    assert after.json() == {"items": []}  # both sent back


def test_a_late_payment_is_owed_back_and_the_order_stays_expired(world):
    database, merchant, outside, sender, system = world
    # Created two minutes ago to be paid within one: it expired a minute ago (the
    # expiry loop has not marked it yet).
    order = new_order(database, merchant.id, "late", minutes=1, ago=timedelta(minutes=2))
    pay_on_stellar(outside, sender, pay_details(payee_of(system), order))

    assert watcher(world).poll_once() == WatchPass(seen=1, owed_back=1)

    [owed] = taken(database)
    assert owed.reason == f"order {order['code']} is expired"
    assert order_state(database, order["id"]) == ("awaiting_payment", None, None)
    assert merchant_balance(database, merchant.id) == 0


def test_a_payment_made_in_time_pays_the_order_even_when_the_watcher_sees_it_late(world):
    database, merchant, outside, sender, system = world
    order = new_order(database, merchant.id, "in-time", minutes=1)
    pay_on_stellar(outside, sender, pay_details(payee_of(system), order))
    # The watcher gets to it two minutes on (restarted, catching up): the order's minute
    # has passed by its clock, not by the ledger that took the payment.
    catching_up = watcher(world, clock=lambda: datetime.now(UTC) + timedelta(minutes=2))

    assert catching_up.poll_once() == WatchPass(seen=1, order_paid=1)

    [(status, paid_at, expires_at)] = query(
        database, "SELECT status, paid_at, expires_at FROM pay_orders WHERE id = %s", order["id"]
    )
    assert status == "paid" and paid_at <= expires_at
    assert merchant_balance(database, merchant.id) == AMOUNT - FEE
    assert check_ledger(database).sound


def test_an_order_paid_from_a_wallet_and_on_stellar_at_once_is_paid_once_the_other_sent_back(
    world, settings
):
    database, merchant, outside, sender, system = world
    box, pin_hash = registration_secrets(settings)
    payer = register(database, box, pin_hash, phone=phone_of(1))
    fund(database, phone_of(1), 1_000_000)
    payee = payee_of(system)
    raced = [new_order(database, merchant.id, f"race-{i}") for i in range(4)]
    horizon = Horizon(outside.url)
    kes = f"{system.asset.code}:{system.asset.issuer}"
    sender_before = horizon.account(sender.public_key).balances[kes]
    for order in raced:
        pay_on_stellar(outside, sender, pay_details(payee, order))

    def wallet_pays(order: dict):
        request = MerchantPaymentRequest(
            payer, None, None, f"w-{order['id']}", channel="api", order_code=order["code"]
        )
        return lambda: merchant_payments.pay(UnitOfWork(database), request)

    outcomes = run_together([watcher(world).poll_once, *map(wallet_pays, raced)])

    assert not [
        o for o in outcomes if isinstance(o, Exception) and not isinstance(o, OrderNotPayable)
    ]
    by_wallet = sum(not isinstance(o, Exception) for o in outcomes[1:])
    records = {p.order_id: p for p in taken(database)}
    assert len(records) == len(raced)
    for order, outcome in zip(raced, outcomes[1:], strict=True):
        state = order_state(database, order["id"])
        assert state[:2] == ("paid", AMOUNT)  # paid, once
        stellar = records[order["id"]]
        if isinstance(outcome, Exception):  # Stellar won the order's row
            assert stellar.outcome == "order_paid" and state[2] == stellar.transaction_id
        else:  # the wallet won: the Stellar payment is owed back, not kept
            assert stellar.outcome == "owed_back"
            assert stellar.reason == f"order {order['code']} is paid"
            assert state[2] == outcome.transaction_id
    assert wallet_balance(database, payer) == 1_000_000 - by_wallet * AMOUNT
    assert merchant_balance(database, merchant.id) == len(raced) * (AMOUNT - FEE)
    assert check_ledger(database).sound
    # What the wallet won is sent back to the Stellar sender: it paid only what it got.
    refunder = Refunder(
        database, horizon, system, passphrase=outside.passphrase, ttl=timedelta(seconds=60)
    )
    assert refunder.send_owed() == by_wallet
    paid_on_stellar = (len(raced) - by_wallet) * AMOUNT * 100_000  # stroops
    assert horizon.account(sender.public_key).balances[kes] == sender_before - paid_on_stellar
