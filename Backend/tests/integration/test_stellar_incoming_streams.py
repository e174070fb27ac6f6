"""The incoming watcher streams, over the local network and stellar-sdk's own
`.stream()`: it follows the treasury's and each wallet's payments (a wallet registered
meanwhile too) and never reads the network's global `/payments`; a payment is credited
once within a few ledgers; when the network goes away and comes back, the watcher
pages the accounts from their cursors and resumes streaming, crediting each payment
exactly once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
from stellar_sdk import Server
from stellar_sdk.client.requests_client import RequestsClient

from app.sandboxes.stellar import create_app
from app.worker.incoming import IncomingWatcher
from tests.conftest import LiveServer, free_port
from tests.integration.test_stellar_incoming import Outside, register_active, sms_to
from tests.support.stellar import custody_settings, prepared_system
from tests.support.wallets import check_ledger, phone_of, wallet_balance


class SeenUrls(RequestsClient):
    """stellar-sdk's own HTTP client, noting which URLs the watcher asked for."""

    def __init__(self) -> None:
        super().__init__(num_retries=0)
        self.pages: list[str] = []
        self.streams: list[str] = []

    def get(self, url, params=None):
        self.pages.append(url)
        return super().get(url, params)

    def stream(self, url, params=None):
        self.streams.append(url)
        return super().stream(url, params)


def eventually(check: Callable[[], bool], within_s: float = 20) -> bool:
    deadline = time.monotonic() + within_s
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


class Following:
    """A watcher following its streams in a thread, until stopped."""

    def __init__(self, watcher: IncomingWatcher) -> None:
        self.stop = threading.Event()
        self.thread = threading.Thread(target=watcher.follow, args=(self.stop, lambda: True))

    def __enter__(self) -> Following:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()


class Network:
    """The local network on a fixed port, which a test can stop and start again on the
    same ledger (a Horizon restart, as a client sees it)."""

    def __init__(self, data_dir) -> None:
        self.data_dir, self.port = data_dir, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server: LiveServer | None = None

    def start(self) -> None:
        app = create_app(self.data_dir, close_interval_s=0.05)
        self.server = LiveServer(app, self.port, graceful_s=1.0).__enter__()

    def stop(self) -> None:
        assert self.server is not None
        self.server.__exit__(None, None, None)
        self.server = None


@pytest.fixture
def network(tmp_path) -> Iterator[Network]:
    net = Network(tmp_path / "restartable")
    net.start()
    try:
        yield net
    finally:
        if net.server is not None:
            net.stop()


def on_network(settings, network: Network) -> tuple[object, object, Outside]:
    """Settings pointed at the network, PayTrace's accounts on it, and outsiders."""
    settings = custody_settings(settings, network.url, stellar_channels=1)
    system = prepared_system(settings)
    return settings, system, Outside(network.url, settings.stellar_network_passphrase, system)


def test_the_watcher_streams_each_watched_account_and_never_the_networks_payments(
    settings, network, clean_database
):
    settings, system, outside = on_network(settings, network)
    url = network.url
    first_id, first = register_active(settings, clean_database, 1)
    sender = outside.account()
    client = SeenUrls()
    watcher = IncomingWatcher(clean_database, Server(url, client=client), system, interval_s=0.1)

    with Following(watcher):
        outside.pay(sender, first, "3")
        assert eventually(lambda: wallet_balance(clean_database, first_id) == 300)
        # A wallet registered while the watcher runs is followed within an interval.
        second_id, second = register_active(settings, clean_database, 2)
        assert eventually(lambda: f"{url}/accounts/{second}/payments" in client.streams)
        outside.pay(sender, second, "4")
        outside.pay(sender, system.treasury.public_key, "1")
        assert eventually(lambda: wallet_balance(clean_database, second_id) == 400)

    assert sorted(client.streams) == sorted(
        f"{url}/accounts/{account}/payments"
        for account in (system.treasury.public_key, first, second)
    )
    assert all(not page.endswith("/payments") for page in client.pages)
    assert len(sms_to(clean_database, phone_of(1))) == 1
    assert len(sms_to(clean_database, phone_of(2))) == 1
    assert check_ledger(clean_database).sound


def test_a_network_that_goes_away_is_paged_then_streamed_again_crediting_once(
    settings, network, clean_database
):
    settings, system, payer = on_network(settings, network)
    user_id, address = register_active(settings, clean_database, 1)
    sender = payer.account()
    watcher = IncomingWatcher(clean_database, Server(network.url), system, interval_s=0.1)

    with Following(watcher):
        payer.pay(sender, address, "1")
        assert eventually(lambda: wallet_balance(clean_database, user_id) == 100)
        network.stop()  # the streams fail; paging fails too while nothing answers
        time.sleep(0.5)
        network.start()
        for amount in ("2", "3"):
            payer.pay(sender, address, amount)
        assert eventually(lambda: wallet_balance(clean_database, user_id) == 600)
        time.sleep(1.5)  # the stream, back after its pause, replays nothing twice

    assert wallet_balance(clean_database, user_id) == 600
    assert len(sms_to(clean_database, phone_of(1))) == 3
    assert check_ledger(clean_database).sound


def test_a_watcher_that_loses_its_lease_stops_following_within_an_interval(
    settings, network, clean_database
):
    settings, system, payer = on_network(settings, network)
    user_id, address = register_active(settings, clean_database, 1)
    sender = payer.account()
    answers = iter([True])  # the lease is held at the first interval, lost at the second
    watcher = IncomingWatcher(clean_database, Server(network.url), system, interval_s=0.1)

    thread = threading.Thread(
        target=watcher.follow, args=(threading.Event(), lambda: next(answers, False))
    )
    thread.start()
    thread.join(timeout=10)

    assert not thread.is_alive()
    payer.pay(sender, address, "5")  # its stream is closed: nobody records it now
    time.sleep(0.5)
    assert wallet_balance(clean_database, user_id) == 0
    assert watcher.poll_once().credited == 1  # the next holder finds it from the cursor
