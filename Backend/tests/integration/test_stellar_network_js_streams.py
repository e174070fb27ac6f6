"""The local network streams to the JS stellar-sdk too (npm, no code shared with the
Python SDK): `server.payments().forAccount(id).cursor('now').stream({onmessage})` gets a
payment made after the stream opened, once; on the network's byebye the SDK reconnects
from the last record's cursor and misses nothing; `.transactions()` streams the same
way. Skipped where Node.js is not installed (tests/support/node_js.py)."""

from __future__ import annotations

import json
import queue
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
