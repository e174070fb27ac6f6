"""The local network's global `GET /payments` over real HTTP, through stellar-sdk's call
builder: every account's payments in Horizon's total order, paged both ways with
cursors, in the same record shape as an account's own payments; `join=transactions`
puts each payment's transaction (its memo) in its record, as Horizon does."""

from __future__ import annotations

import pytest
from stellar_sdk import Asset, Keypair, MuxedAccount, Server, TransactionBuilder
from stellar_sdk.exceptions import BadRequestError

from app.sandboxes.stellar import DEFAULT_PASSPHRASE
from tests.support.stellar_network import funded

PASSPHRASE = DEFAULT_PASSPHRASE


def pay(server: Server, payer: Keypair, *payments: tuple[str, Asset, str]) -> dict:
    builder = TransactionBuilder(server.load_account(payer.public_key), PASSPHRASE, 100)
    for destination, asset, amount in payments:
        builder.append_payment_op(destination, asset, amount)
    envelope = builder.set_timeout(60).build()
    envelope.sign(payer)
    return server.submit_transaction(envelope)


def every_record(builder) -> list[dict]:
    """Follow `next` links until an empty page, as a watcher does."""
    seen, page = [], builder.call()
    while page["_embedded"]["records"]:
        seen += page["_embedded"]["records"]
        page = builder.next()
    return seen


def test_every_accounts_payments_page_in_order_from_a_cursor(server, horizon_url):
    start = server.payments().order(desc=True).limit(1).call()["_embedded"]["records"]
    cursor = start[0]["paging_token"] if start else "0"
    issuer, alice, bob = funded(horizon_url), funded(horizon_url), funded(horizon_url)
    kes = Asset("KES", issuer.public_key)
    for holder in (alice, bob):
        builder = TransactionBuilder(server.load_account(holder.public_key), PASSPHRASE, 100)
        envelope = builder.append_change_trust_op(kes).set_timeout(60).build()
        envelope.sign(holder)
        server.submit_transaction(envelope)
    first = pay(server, issuer, (alice.public_key, kes, "10"), (bob.public_key, kes, "2.5"))
    second = pay(
        server, alice, (bob.public_key, kes, "1.25"), (bob.public_key, Asset.native(), "3")
    )

    seen = every_record(server.payments().cursor(cursor).order(desc=False).limit(2))

    tokens = [int(record["paging_token"]) for record in seen]
    assert tokens == sorted(set(tokens)) and all(r["id"] == r["paging_token"] for r in seen)
    assert [r["type"] for r in seen] == ["create_account"] * 3 + ["payment"] * 4
    assert [r["account"] for r in seen[:3]] == [k.public_key for k in (issuer, alice, bob)]
    assert [(r["from"], r["to"], r.get("asset_code"), r["amount"]) for r in seen[3:]] == [
        (issuer.public_key, alice.public_key, "KES", "10.0000000"),
        (issuer.public_key, bob.public_key, "KES", "2.5000000"),
        (alice.public_key, bob.public_key, "KES", "1.2500000"),
        (alice.public_key, bob.public_key, None, "3.0000000"),
    ]
    assert [r["transaction_hash"] for r in seen[3:]] == [first["hash"]] * 2 + [second["hash"]] * 2
    assert all(r["asset_issuer"] == issuer.public_key for r in seen[3:6])
    # The same records, field for field, as the accounts' own payments list them.
    bobs = every_record(server.payments().for_account(bob.public_key).limit(10))
    assert [r for r in seen if bob.public_key in (r.get("to"), r.get("account"))] == bobs

    # Resuming from a token in the middle gives exactly what came after it.
    after = server.payments().cursor(tokens[4]).order(desc=False).limit(200).call()
    assert [r["id"] for r in after["_embedded"]["records"]] == [r["id"] for r in seen[5:]]
    newest = server.payments().order(desc=True).limit(3).call()["_embedded"]["records"]
    assert [r["id"] for r in newest] == [r["id"] for r in seen[::-1][:3]]
    # Nothing new since the last one: an empty page whose next link keeps the cursor.
    empty = server.payments().cursor(tokens[-1]).order(desc=False).limit(200).call()
    assert empty["_embedded"]["records"] == []
    assert f"cursor={tokens[-1]}" in empty["_links"]["next"]["href"]
    assert "payments" in server.root().call()["_links"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "201"}, "limit"),
        ({"order": "up"}, "order"),
        ({"cursor": "x"}, "cursor"),
        ({"join": "ledgers"}, "join"),
    ],
)
def test_bad_paging_parameters_are_refused_as_horizon_does(server, params, field):
    builder = server.payments()
    builder.params.update(params)
    with pytest.raises(BadRequestError) as refused:
        builder.call()
    assert refused.value.status == 400
    assert refused.value.extras["invalid_field"] == field


def test_joined_with_transactions_each_payment_carries_its_memo_and_muxed_destination(
    server, horizon_url
):
    payer, payee = funded(horizon_url), funded(horizon_url)
    muxed = MuxedAccount(payee.public_key, 42).account_muxed
    assert muxed is not None
    builder = TransactionBuilder(server.load_account(payer.public_key), PASSPHRASE, 100)
    envelope = (
        builder.append_payment_op(payee.public_key, Asset.native(), "1")
        .append_payment_op(muxed, Asset.native(), "2")
        .add_text_memo("48213575")
        .set_timeout(60)
        .build()
    )
    envelope.sign(payer)
    sent = server.submit_transaction(envelope)

    joined = server.payments().for_account(payer.public_key).join("transactions").call()
    plain = server.payments().join("transactions").order(desc=True).limit(2).call()

    paid = [r for r in joined["_embedded"]["records"] if r["type"] == "payment"]
    assert [r["transaction"]["hash"] for r in paid] == [sent["hash"]] * 2
    assert {(r["transaction"]["memo_type"], r["transaction"]["memo"]) for r in paid} == {
        ("text", "48213575")
    }
    assert [(r["to"], r.get("to_muxed"), r.get("to_muxed_id")) for r in paid] == [
        (payee.public_key, None, None),
        (payee.public_key, muxed, "42"),
    ]
    assert [r["id"] for r in plain["_embedded"]["records"]][::-1] == [r["id"] for r in paid]
    unjoined = server.payments().for_account(payer.public_key).call()["_embedded"]["records"]
    assert all("transaction" not in r for r in unjoined)
