"""The incoming watcher on PayTrace's local Stellar network, over real HTTP: KES paid
into a wallet from outside PayTrace is credited once from stellar_clearing and
confirmed by SMS; a pass, a second pass, a new watcher, a crash and two watchers at
once never credit anything twice nor skip it; PayTrace's own envelopes, other assets,
other accounts and fractions of a cent are recorded with the reason they were not."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from stellar_sdk import Asset, Keypair, Server, TransactionBuilder

from app.db import leases
from app.db.leases import Lease
from app.db.repositories.incoming import IncomingPayment, IncomingRepository
from app.db.unit_of_work import UnitOfWork
from app.integrations.stellar import Horizon
from app.services.custody import SecretBox
from app.services.incoming_payments import WatchPass, shorten
from app.services.registration import NewUser, register_user
from app.worker.incoming import IncomingWatcher
from app.worker.loops import build_loops
from tests.support.stellar import (
    activate_pending,
    books,
    custody_settings,
    kes_cents,
    local_network,
    prepared_system,
    settler,
)
from tests.support.wallets import (
    SHORTCODE,
    check_ledger,
    fund,
    phone_of,
    registration_secrets,
    wallet_balance,
)


@pytest.fixture
def custody(settings, tmp_path):
    with local_network(tmp_path / "net", close_interval_s=0.05) as net:
        custody = custody_settings(settings, net.url, stellar_channels=2)
        yield custody, prepared_system(custody), net.url


def register_active(settings, database, n: int, language: str = "en") -> tuple[int, str]:
    """A user whose wallet is activated on the network: (user id, address)."""
    box, pin_hash = registration_secrets(settings)
    done = register_user(
        UnitOfWork(database),
        box,
        NewUser(
            phone=phone_of(n),
            full_name="Achieng Odhiambo",
            pin_hash=pin_hash,
            language=language,
            registration_key=f"test:incoming:{n}",
        ),
        shortcode=SHORTCODE,
    )
    activate_pending(settings, database)
    return done.user.id, done.wallet.stellar_address


class Outside:
    """Stellar accounts PayTrace does not hold, paying over the network."""

    def __init__(self, url: str, passphrase: str, system) -> None:
        self.url, self.passphrase, self.system = url, passphrase, system
        self.server = Server(url)

    def account(self, kes: str = "1000") -> Keypair:
        """A funded account that trusts KES and was paid `kes` by the issuer."""
        keypair = Keypair.random()
        answer = httpx.get(f"{self.url}/friendbot", params={"addr": keypair.public_key})
        assert answer.status_code == 200, answer.text
        self.submit(self.envelope(keypair, lambda b: b.append_change_trust_op(self.system.asset)))
        self.pay(self.system.issuer, keypair.public_key, kes)
        return keypair

    def envelope(self, payer: Keypair, build):
        builder = TransactionBuilder(self.server.load_account(payer.public_key), self.passphrase)
        envelope = build(builder).set_timeout(60).build()
        envelope.sign(payer)
        return envelope

    def submit(self, envelope) -> str:
        assert self.server.submit_transaction(envelope, skip_memo_required_check=True)["successful"]
        return envelope.hash_hex()

    def pay(self, payer: Keypair, to: str, amount: str, asset: Asset | None = None) -> str:
        asset = asset or self.system.asset
        return self.submit(self.envelope(payer, lambda b: b.append_payment_op(to, asset, amount)))


@pytest.fixture
def outside(custody):
    settings, system, url = custody
    return Outside(url, settings.stellar_network_passphrase, system)


def watcher(custody, database) -> IncomingWatcher:
    """A new watcher, as a (re)started worker builds it."""
    _, system, url = custody
    return IncomingWatcher(database, Horizon(url).server, system, interval_s=0.05)


def incoming(database) -> list[IncomingPayment]:
    with database.connection() as conn:
        rows = IncomingRepository(conn).all()
        conn.rollback()
    return rows


def query(database, sql: str, *params) -> list[tuple]:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
        conn.rollback()
    return rows


def sms_to(database, phone: str) -> list[tuple[str, str]]:
    return query(
        database,
        "SELECT payload->>'template', payload->>'message' FROM outbox"
        " WHERE kind = 'sms' AND payload->>'to' = %s AND payload->>'template' <> 'welcome'"
        " ORDER BY id",
        phone,
    )


def stored_cursor(database, address: str) -> str | None:
    """The watcher's cursor in one account's payments."""
    rows = query(
        database, "SELECT cursor FROM stellar_cursors WHERE name = %s", f"account:{address}"
    )
    return rows[0][0] if rows else None


def test_a_payment_from_outside_is_credited_once_and_confirmed_by_sms(
    custody, outside, clean_database
):
    settings, system, url = custody
    user_id, address = register_active(settings, clean_database, 1)
    sender = outside.account()
    tx_hash = outside.pay(sender, address, "12.34")

    # The issuer's payment to the sender is in no watched account's payments: unseen.
    assert watcher(custody, clean_database).poll_once() == WatchPass(seen=1, credited=1)

    assert wallet_balance(clean_database, user_id) == 1234
    [credit] = incoming(clean_database)
    assert (credit.tx_hash, credit.from_address, credit.to_address, credit.amount) == (
        tx_hash,
        sender.public_key,
        address,
        1234,
    )
    assert credit.outcome == "credited" and credit.reason is None
    [(kind, channel, key, note, amount)] = query(
        clean_database,
        "SELECT kind, channel, idempotency_key, note, amount FROM journal_transactions"
        " WHERE id = %s",
        credit.transaction_id,
    )
    assert (kind, channel, key, amount) == (
        "cash_in",
        "system",
        f"stellar-in:{credit.operation_id}",
        1234,
    )
    assert note == f"Stellar {sender.public_key}"
    assert query(
        clean_database,
        "SELECT a.code, l.amount FROM journal_legs l JOIN ledger_accounts a ON a.id = l.account_id"
        " WHERE l.transaction_id = %s AND a.user_id IS NULL",
        credit.transaction_id,
    ) == [("stellar_clearing", -1234)]
    # Already on-chain: its settlement row is settled, with the incoming hash.
    assert query(
        clean_database,
        "SELECT status, origin, tx_hash FROM stellar_settlements WHERE transaction_id = %s",
        credit.transaction_id,
    ) == [("settled", "incoming", tx_hash)]
    [(template, message)] = sms_to(clean_database, phone_of(1))
    reference = query(
        clean_database,
        "SELECT reference FROM journal_transactions WHERE id = %s",
        credit.transaction_id,
    )[0][0]
    assert template == "stellar_received"
    assert f"PayTrace {reference} confirmed" in message
    assert "KES 12.34 from Stellar account" in message and shorten(sender.public_key) in message
    assert message.endswith("New balance KES 12.34.") and len(message) <= 160
    assert check_ledger(clean_database).sound
    ledger, on_chain = books(clean_database, Horizon(url), system)
    assert ledger[address] == on_chain[address] == 1234

    # A second pass, and a new watcher (a restart), find nothing new...
    assert watcher(custody, clean_database).poll_once() == WatchPass()
    again = watcher(custody, clean_database)
    assert again.poll_once() == WatchPass()
    # ...and the restarted one credits only what came after its cursor.
    outside.pay(sender, address, "5")
    assert again.poll_once() == WatchPass(seen=1, credited=1)
    assert wallet_balance(clean_database, user_id) == 1734
    assert len(sms_to(clean_database, phone_of(1))) == 2
    assert [p.outcome for p in incoming(clean_database)] == ["credited", "credited"]
    assert stored_cursor(clean_database, address) == incoming(clean_database)[-1].operation_id
    # An operator moving the cursor back to read again: what was recorded stays once.
    with clean_database.connection() as conn:
        IncomingRepository(conn).set_cursor(f"account:{address}", "0")
        conn.commit()
    assert watcher(custody, clean_database).poll_once() == WatchPass()
    assert wallet_balance(clean_database, user_id) == 1734
    assert len(sms_to(clean_database, phone_of(1))) == 2


def test_what_is_not_credited_is_recorded_with_its_reason(custody, outside, clean_database):
    settings, system, _ = custody
    user_id, address = register_active(settings, clean_database, 1, language="sw")
    sender = outside.account()
    stranger = outside.account("1")
    watch = watcher(custody, clean_database)
    watch.poll_once()
    assert wallet_balance(clean_database, user_id) == 0

    # PayTrace's own: a cash-in, settled by the settler (the issuer mints to the wallet
    # in an envelope saved before it was submitted).
    fund(clean_database, phone_of(1), 50_000)
    settler(settings, clean_database, system).settle_all()
    outside.pay(sender, address, "0.005")  # half a cent
    outside.pay(sender, address, "1", Asset.native())
    outside.pay(sender, system.treasury.public_key, "2")
    outside.pay(sender, stranger.public_key, "4")
    outside.pay(sender, address, "7")

    # A payment between accounts PayTrace does not hold (to the stranger) is in none of
    # the watched accounts' payments.
    assert watch.poll_once() == WatchPass(seen=4, credited=1, ignored=3)

    # PayTrace's own settlement payment is passed over, not recorded.
    reasons = [(p.to_address, p.amount, p.reason) for p in incoming(clean_database)]
    assert reasons == [
        (address, 1, "amount not whole cents: 0.0050000 KES"),
        (address, 100, "not our asset: 1.0000000 XLM"),
        (system.treasury.public_key, 200, "to treasury: operator"),
        (address, 700, None),
    ]
    assert wallet_balance(clean_database, user_id) == 50_000 + 700
    # The SMS of the cash-in, then the credit's, in the user's language.
    [(_, _), (template, message)] = sms_to(clean_database, phone_of(1))
    assert template == "stellar_received"
    assert "Umepokea KES 7 kutoka akaunti ya Stellar" in message
    assert message.endswith("Salio jipya KES 507.")
    assert check_ledger(clean_database).sound
    assert query(
        clean_database, "SELECT balance FROM ledger_accounts WHERE code = 'stellar_clearing'"
    ) == [(-700,)]


def test_a_payment_signed_with_a_wallets_key_outside_paytrace_is_not_credited(
    custody, outside, clean_database
):
    settings, system, url = custody
    _, first = register_active(settings, clean_database, 1)
    second_id, second = register_active(settings, clean_database, 2)
    fund(clean_database, phone_of(1), 10_000)
    settler(settings, clean_database, system).settle_all()
    # Only PayTrace holds the wallet's key, and it saves every envelope it signs: a
    # payment from a wallet that PayTrace never saved is for an operator, not a credit.
    with UnitOfWork(clean_database) as uow:
        key = Keypair.from_secret(
            SecretBox.from_settings(settings).decrypt(uow.stellar.wallet_secret(first))
        )
    payer = outside.account()
    passphrase = settings.stellar_network_passphrase
    inner = TransactionBuilder(outside.server.load_account(first), passphrase, base_fee=0)
    inner = inner.append_payment_op(second, system.asset, "10").set_timeout(60).build()
    inner.sign(key)
    bump = TransactionBuilder.build_fee_bump_transaction(payer.public_key, 100, inner, passphrase)
    bump.sign(payer)
    outside.submit(bump)

    watcher(custody, clean_database).poll_once()

    assert incoming(clean_database)[-1].reason == "from a PayTrace account: operator"
    assert wallet_balance(clean_database, second_id) == 0
    assert kes_cents(Horizon(url), system, second) == 1000


def test_a_crash_before_commit_leaves_nothing_and_the_next_pass_credits_once(
    custody, outside, clean_database, monkeypatch
):
    settings = custody[0]
    user_id, address = register_active(settings, clean_database, 1)
    sender = outside.account()
    watcher(custody, clean_database).poll_once()
    start = stored_cursor(clean_database, address)
    outside.pay(sender, address, "20")

    def crash(self, name, cursor):
        raise RuntimeError("worker died before COMMIT")

    with monkeypatch.context() as patched:
        patched.setattr(IncomingRepository, "set_cursor", crash)
        with pytest.raises(RuntimeError):
            watcher(custody, clean_database).poll_once()

    assert stored_cursor(clean_database, address) == start
    assert wallet_balance(clean_database, user_id) == 0
    assert incoming(clean_database) == [] and sms_to(clean_database, phone_of(1)) == []
    assert watcher(custody, clean_database).poll_once() == WatchPass(seen=1, credited=1)
    assert wallet_balance(clean_database, user_id) == 2000
    assert len(sms_to(clean_database, phone_of(1))) == 1


def test_two_watchers_at_once_credit_each_payment_once(custody, outside, clean_database):
    settings = custody[0]
    user_id, address = register_active(settings, clean_database, 1)
    sender = outside.account()
    watcher(custody, clean_database).poll_once()
    for amount in range(1, 13):
        outside.pay(sender, address, str(amount))

    watchers = [watcher(custody, clean_database) for _ in range(3)]
    with ThreadPoolExecutor(len(watchers)) as pool:
        passes = list(pool.map(lambda w: w.poll_once(), watchers))

    assert sum(p.credited for p in passes) == 12
    assert wallet_balance(clean_database, user_id) == sum(range(1, 13)) * 100
    assert len(sms_to(clean_database, phone_of(1))) == 12
    assert check_ledger(clean_database).sound


def test_the_worker_loop_watches_while_it_holds_the_lease(custody, outside, clean_database):
    settings = custody[0]
    user_id, address = register_active(settings, clean_database, 1)
    sender = outside.account()
    standby = Lease(clean_database, leases.INCOMING)
    loops = build_loops(
        settings.model_copy(update={"stellar_watch_interval_s": 0.05}), clean_database
    )
    [watch] = [loop for loop in loops if loop.name == "stellar-incoming"]
    stop = threading.Event()
    thread = threading.Thread(target=watch.run_forever, args=(stop,))
    thread.start()
    try:
        outside.pay(sender, address, "3")
        deadline = time.monotonic() + 20
        while wallet_balance(clean_database, user_id) == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert wallet_balance(clean_database, user_id) == 300
        assert standby.held() is False  # another process would stand by
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert standby.held() is True  # released when the loop stopped
    standby.release()


def test_no_watcher_without_custody(settings, clean_database):
    assert all(loop.name != "stellar-incoming" for loop in build_loops(settings, clean_database))
