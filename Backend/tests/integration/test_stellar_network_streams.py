"""The local network streams as Horizon does, and serves Horizon's history listings:
stellar-sdk's own `.stream()` follows an account's payments and transactions from a
cursor (or `now`) across reconnections; the raw frames are Horizon's (hello with
`retry:`, `id:` per record, a hello again while quiet, byebye after `limit`); a client
resumes from `Last-Event-ID`; `/transactions`, `/operations` and `/effects`, for the
network and for one account, have Horizon's shapes and paging."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest
from stellar_sdk import Asset, Keypair, Server, TransactionBuilder

from app.sandboxes.stellar import DEFAULT_PASSPHRASE
from tests.support.stellar_network import funded

PASSPHRASE = DEFAULT_PASSPHRASE
SSE = {"Accept": "text/event-stream"}


def pay(server: Server, payer: Keypair, to: str, amount: str) -> dict:
    builder = TransactionBuilder(server.load_account(payer.public_key), PASSPHRASE, 100)
    envelope = builder.append_payment_op(to, Asset.native(), amount).set_timeout(60).build()
    envelope.sign(payer)
    return server.submit_transaction(envelope)


def collect(records: Iterator[dict], count: int) -> tuple[list[dict], threading.Thread]:
    """Read `count` records of an SDK stream in a thread (the stream itself never ends)."""
    got: list[dict] = []

    def read() -> None:
        for record in records:
            got.append(record)
            if len(got) == count:
                return

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return got, thread


def frames(text: str) -> list[dict[str, str]]:
    """Server-sent events as a client parses them: blank-line separated field lines."""
    events = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if fields:
            events.append(fields)
    return events


def test_the_sdk_streams_an_accounts_payments_from_its_cursor_across_reconnections(
    server, horizon_url
):
    payer, payee = funded(horizon_url), funded(horizon_url)
    pay(server, payer, payee.public_key, "1")
    # limit=2: the network says byebye every two records and the SDK reconnects from
    # the last id it saw, as it does with Horizon.
    builder = server.payments().for_account(payee.public_key).cursor("0").limit(2)
    got, reader = collect(builder.stream(), 5)
    for amount in ("2", "3", "4"):
        pay(server, payer, payee.public_key, amount)
    reader.join(timeout=20)

    assert [r["type"] for r in got] == ["create_account"] + ["payment"] * 4
    assert [r["amount"] for r in got[1:]] == ["1.0000000", "2.0000000", "3.0000000", "4.0000000"]
    tokens = [int(r["paging_token"]) for r in got]
    assert tokens == sorted(set(tokens))  # each once, in order
    paged = server.payments().for_account(payee.public_key).limit(200).call()
    assert got == paged["_embedded"]["records"]  # the same records as a page


def test_a_stream_from_now_sees_only_what_closes_later(server, horizon_url):
    payer, payee = funded(horizon_url), funded(horizon_url)
    pay(server, payer, payee.public_key, "1")
    got, reader = collect(
        server.transactions().for_account(payee.public_key).cursor("now").stream(), 1
    )
    later = pay(server, payer, payee.public_key, "5")
    reader.join(timeout=20)
    assert [r["hash"] for r in got] == [later["hash"]]
    assert got[0]["source_account"] == payer.public_key and got[0]["successful"] is True


def test_the_frames_are_horizons_and_a_client_resumes_from_last_event_id(server, horizon_url):
    payer, payee = funded(horizon_url), funded(horizon_url)
    for amount in ("1", "2", "3"):
        pay(server, payer, payee.public_key, amount)
    url = f"{horizon_url}/accounts/{payee.public_key}/payments"
    # limit=3 of four records: hello, three records, byebye, and the response ends.
    answer = httpx.get(url, params={"limit": "3"}, headers=SSE, timeout=10)
    assert answer.headers["content-type"].startswith("text/event-stream")
    assert answer.headers["cache-control"] == "no-cache"
    events = frames(answer.text)
    assert events[0] == {"retry": "1000", "event": "open", "data": '"hello"'}
    assert [e.get("id") for e in events[1:4]] == [
        httpx.Response(200, text=e["data"]).json()["paging_token"] for e in events[1:4]
    ]
    assert events[-1] == {"retry": "10", "event": "close", "data": '"byebye"'}

    # Reconnecting with the last id gives the rest, then hellos while nothing happens.
    resumed = []
    headers = SSE | {"Last-Event-ID": events[3]["id"]}
    with httpx.stream("GET", url, params={"cursor": "0"}, headers=headers, timeout=10) as stream:
        for line in stream.iter_lines():
            resumed.append(line)
            if resumed.count('data: "hello"') == 3:
                break
    rest = [line for line in resumed if line.startswith("id: ")]
    last = server.payments().for_account(payee.public_key).order(desc=True).limit(1).call()
    assert rest == [f"id: {last['_embedded']['records'][0]['paging_token']}"]
    assert resumed.count("event: open") == 3 and resumed.count("retry: 1000") == 1


def test_transactions_are_listed_for_the_network_and_for_each_account(server, horizon_url):
    payer, payee = funded(horizon_url), funded(horizon_url)
    first = pay(server, payer, payee.public_key, "1")
    second = pay(server, payee, payer.public_key, "2")

    mine = server.transactions().for_account(payee.public_key).limit(200).call()
    hashes = [r["hash"] for r in mine["_embedded"]["records"]]
    assert hashes[-2:] == [first["hash"], second["hash"]] and len(hashes) == 3  # + creation
    newest = server.transactions().order(desc=True).limit(2).call()["_embedded"]["records"]
    assert [r["hash"] for r in newest] == [second["hash"], first["hash"]]
    assert newest[0]["paging_token"] == second["paging_token"]
    after = server.transactions().cursor(first["paging_token"]).limit(200).call()
    assert [r["hash"] for r in after["_embedded"]["records"]][:1] == [second["hash"]]


def test_operations_and_effects_have_horizons_shapes(server, horizon_url):
    payer, payee = funded(horizon_url), funded(horizon_url)
    done = pay(server, payer, payee.public_key, "7.5")

    [op] = server.operations().for_transaction(done["hash"]).call()["_embedded"]["records"]
    assert op["type"] == "payment" and op["type_i"] == 1
    assert (op["from"], op["to"], op["amount"]) == (payer.public_key, payee.public_key, "7.5000000")
    assert op["asset_type"] == "native" and op["transaction_hash"] == done["hash"]
    theirs = server.operations().for_account(payee.public_key).limit(200).call()
    assert [o["type"] for o in theirs["_embedded"]["records"]] == ["create_account", "payment"]

    effects = server.effects().for_operation(op["id"]).call()["_embedded"]["records"]
    assert [(e["type"], e["type_i"], e["account"], e["amount"]) for e in effects] == [
        ("account_credited", 2, payee.public_key, "7.5000000"),
        ("account_debited", 3, payer.public_key, "7.5000000"),
    ]
    assert [e["paging_token"] for e in effects] == [f"{op['id']}-1", f"{op['id']}-2"]
    on_payee = server.effects().for_account(payee.public_key).limit(200).call()
    kinds = [e["type"] for e in on_payee["_embedded"]["records"]]
    assert kinds == ["account_created", "signer_created", "account_credited"]
    # An effect's token is a cursor: the one after the credit is the debit.
    [following] = (
        server.effects().cursor(effects[0]["paging_token"]).limit(1).call()["_embedded"]["records"]
    )
    assert following["id"] == effects[1]["id"]


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/transactions", {"cursor": "x"}, "cursor"),
        ("/operations", {"limit": "201"}, "limit"),
        ("/effects", {"cursor": "1-x"}, "cursor"),
        ("/transactions", {"include_failed": "maybe"}, "include_failed"),
        ("/accounts/GNOPE/transactions", {}, "account_id"),
    ],
)
def test_bad_listing_parameters_are_horizon_problems(horizon_url, path, params, field):
    answer = httpx.get(f"{horizon_url}{path}", params=params, timeout=10)
    assert answer.status_code == 400
    assert answer.json()["extras"]["invalid_field"] == field


def test_a_descending_stream_is_refused_as_horizon_refuses_it(horizon_url):
    answer = httpx.get(f"{horizon_url}/payments", params={"order": "desc"}, headers=SSE)
    assert answer.status_code == 400 and answer.json()["extras"]["invalid_field"] == "order"


def test_a_trustline_made_changed_and_removed_shows_horizons_three_effects(server, horizon_url):
    issuer, holder = funded(horizon_url), funded(horizon_url)
    asset = Asset("KES", issuer.public_key)
    for limit in (None, "500", "0"):
        builder = TransactionBuilder(server.load_account(holder.public_key), PASSPHRASE, 100)
        envelope = builder.append_change_trust_op(asset, limit).set_timeout(60).build()
        envelope.sign(holder)
        server.submit_transaction(envelope)

    ops = server.operations().for_account(holder.public_key).limit(200).call()
    changes = [o for o in ops["_embedded"]["records"] if o["type"] == "change_trust"]
    assert [(o["type_i"], o["trustor"], o["trustee"], o["limit"]) for o in changes] == [
        (6, holder.public_key, issuer.public_key, "922337203685.4775807"),
        (6, holder.public_key, issuer.public_key, "500.0000000"),
        (6, holder.public_key, issuer.public_key, "0.0000000"),
    ]
    effects = server.effects().for_account(holder.public_key).limit(200).call()
    lines = [e for e in effects["_embedded"]["records"] if e["type"].startswith("trustline")]
    assert [(e["type"], e["type_i"], e["asset_code"], e["limit"]) for e in lines] == [
        ("trustline_created", 20, "KES", "922337203685.4775807"),
        ("trustline_updated", 22, "KES", "500.0000000"),
        ("trustline_removed", 21, "KES", "0.0000000"),
    ]
