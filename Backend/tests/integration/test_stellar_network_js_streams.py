"""The local network streams to the JS stellar-sdk too (npm, no code shared with the
Python SDK): `server.payments().forAccount(id).cursor('now').stream({onmessage})` gets a
payment made after the stream opened, once; on the network's byebye the SDK reconnects
from the last record's cursor and misses nothing; when the connection drops instead,
the SDK's EventSource reconnects to the same `cursor=now` URL with `Last-Event-ID`, and
the network resumes after that id, so a payment made while it was away still arrives;
`.transactions()` streams the same way. Skipped where Node.js is not installed
(tests/support/node_js.py)."""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from stellar_sdk import Asset, Keypair, Server, TransactionBuilder

from app.sandboxes.stellar import DEFAULT_PASSPHRASE
from tests.support.node_js import js_tools
from tests.support.stellar_network import funded


@pytest.fixture(scope="module")
def js_stream() -> Path:
    return js_tools() / "stream_records.mjs"


def pay(server: Server, payer: Keypair, to: str, amount: str) -> dict:
    builder = TransactionBuilder(server.load_account(payer.public_key), DEFAULT_PASSPHRASE, 100)
    envelope = builder.append_payment_op(to, Asset.native(), amount).set_timeout(60).build()
    envelope.sign(payer)
    return server.submit_transaction(envelope)


class JsStream:
    """A running stream_records.mjs: its JSON lines, read as they come."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process
        self.lines: queue.Queue[dict] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:  # type: ignore[union-attr]
            self.lines.put(json.loads(line))

    def next(self, key: str) -> dict | str:
        line = self.lines.get(timeout=20)
        assert key in line, line
        return line[key]

    def rest(self) -> list[dict]:
        """What the script printed until it exited (it exits once it has its records)."""
        assert self.process.wait(timeout=30) == 0, self.process.stderr.read()  # type: ignore[union-attr]
        out = []
        while not self.lines.empty():
            out.append(self.lines.get())
        return out


@contextmanager
def js_stream_of(
    script: Path, horizon_url: str, kind: str, account: str, *, limit: int, count: int
) -> Iterator[JsStream]:
    argv = ["node", str(script), horizon_url, kind, account, "now", str(limit), str(count)]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield JsStream(process)
    finally:
        process.kill()
        process.wait(timeout=10)


def cursor_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["cursor"][0]


class DroppingProxy:
    """A TCP relay in front of the local network that cuts its first connection just
    after relaying the first record (`id:` frame), as a load balancer or a network
    blip would, and relays later ones whole; it keeps each request's head."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname, parts.port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.requests: list[str] = []
        self.dropped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.upstream)
            first = not self.requests
            self.requests.append(client.recv(65536).decode("latin-1"))
            upstream.sendall(self.requests[-1].encode("latin-1"))
            threading.Thread(target=self._pump, args=(upstream, client, first), daemon=True).start()
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, cut: bool) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
                if cut and b"\nid: " in b"\n" + chunk:
                    break
        except OSError:
            pass
        for end in (source, sink):
            # shutdown, not only close: the other direction's thread is blocked reading
            # this socket, and a bare close would leave the connection open under it.
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()
        if cut:
            self.dropped.set()

    def close(self) -> None:
        self.listener.close()


def test_the_js_sdk_streams_payments_from_now_and_resumes_from_its_cursor(
    js_stream, server, horizon_url
):
    payer, payee = funded(horizon_url), funded(horizon_url)
    pay(server, payer, payee.public_key, "1")  # before the stream: never delivered
    # limit=2: the network says byebye after two records and the SDK reconnects.
    with js_stream_of(
        js_stream, horizon_url, "payments", payee.public_key, limit=2, count=3
    ) as stream:
        opened = stream.next("connected")
        assert cursor_of(opened) == "now"
        for amount in ("2", "3", "4"):
            pay(server, payer, payee.public_key, amount)
        lines = stream.rest()

    records = [line["record"] for line in lines if "record" in line]
    assert [(r["type"], r["amount"]) for r in records] == [
        ("payment", "2.0000000"),
        ("payment", "3.0000000"),
        ("payment", "4.0000000"),
    ]
    # After the byebye the SDK opened the stream again from the second record's token.
    reconnected = [line["connected"] for line in lines if "connected" in line]
    assert cursor_of(reconnected[0]) == records[1]["paging_token"]
    paged = server.payments().for_account(payee.public_key).limit(200).call()
    assert [r["paging_token"] for r in records] == [
        r["paging_token"] for r in paged["_embedded"]["records"][-3:]
    ]


def test_a_dropped_js_stream_resumes_from_last_event_id_and_misses_nothing(
    js_stream, server, horizon_url
):
    payer, payee = funded(horizon_url), funded(horizon_url)
    proxy = DroppingProxy(horizon_url)
    try:
        with js_stream_of(
            js_stream, proxy.url, "payments", payee.public_key, limit=0, count=3
        ) as stream:
            stream.next("connected")
            pay(server, payer, payee.public_key, "1")
            first = stream.next("record")
            assert proxy.dropped.wait(10)
            pay(server, payer, payee.public_key, "2")  # while the stream is down
            stream.next("connected")  # the EventSource's own reconnection
            pay(server, payer, payee.public_key, "3")
            lines = stream.rest()
    finally:
        proxy.close()

    records = [first, *(line["record"] for line in lines if "record" in line)]
    assert [r["amount"] for r in records] == ["1.0000000", "2.0000000", "3.0000000"]
    # It asked for cursor=now again: only Last-Event-ID made the network resume after
    # the first payment rather than after the last closed ledger.
    again = proxy.requests[1]
    assert again.startswith("GET ") and "cursor=now" in again.split("\r\n")[0]
    assert f"last-event-id: {first['paging_token']}\r\n" in again.lower()


def test_the_js_sdk_streams_an_accounts_transactions_from_now(js_stream, server, horizon_url):
    payer, payee = funded(horizon_url), funded(horizon_url)
    with js_stream_of(
        js_stream, horizon_url, "transactions", payee.public_key, limit=0, count=1
    ) as stream:
        stream.next("connected")
        later = pay(server, payer, payee.public_key, "5")
        lines = stream.rest()

    records = [line["record"] for line in lines if "record" in line]
    assert [r["hash"] for r in records] == [later["hash"]]
    assert records[0]["source_account"] == payer.public_key and records[0]["successful"] is True
