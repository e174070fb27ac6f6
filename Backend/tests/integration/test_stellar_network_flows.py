"""PayTrace's flows on its local Stellar network over real HTTP: sponsored 0-XLM
accounts paying KES through fee bumps, muxed payments, paging, restarts, concurrency,
and PayTrace's own Horizon adapter talking to it."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from stellar_sdk import Account, Asset, Keypair, MuxedAccount, Server, TransactionBuilder
from stellar_sdk.client.requests_client import RequestsClient
from stellar_sdk.exceptions import BadRequestError

from app.integrations.stellar import Horizon, Submission
from app.sandboxes.stellar import DEFAULT_PASSPHRASE, create_app
from app.sandboxes.stellar.amounts import parse_amount
from app.services.custody import SystemAccounts
from app.services.stellar_envelopes import activations
from tests.conftest import LiveServer, free_port
from tests.support.stellar_network import funded

PASSPHRASE = DEFAULT_PASSPHRASE
RESERVE = 5_000_000


def serve(data_dir: Path, close_interval_s: float = 0.1) -> LiveServer:
    return LiveServer(create_app(data_dir, close_interval_s=close_interval_s), free_port())


def submit(server: Server, source: Keypair, build, *signers: Keypair, base_fee: int = 100) -> dict:
    """Build on source's current sequence with `build(builder)`, sign, submit."""
    builder = TransactionBuilder(server.load_account(source.public_key), PASSPHRASE, base_fee)
    envelope = build(builder).set_timeout(60).build()
    for signer in signers or (source,):
        envelope.sign(signer)
    return server.submit_transaction(envelope)


def balances(server: Server, keypair: Keypair) -> dict[str, int]:
    lines = server.accounts().account_id(keypair.public_key).call()["balances"]
    return {
        line.get("asset_code", "native"): parse_amount(line["balance"])
        for line in lines  # one issuer per test: the code is enough
    }


def min_balance(account: dict) -> int:
    entries = 2 + account["subentry_count"] + account["num_sponsoring"] - account["num_sponsored"]
    return entries * RESERVE


def test_a_sponsored_zero_xlm_account_holds_kes_and_pays_through_a_fee_bump(server, horizon_url):
    issuer, treasury, fee = funded(horizon_url), funded(horizon_url), funded(horizon_url)
    kes = Asset("KES", issuer.public_key)
    system = SystemAccounts(issuer=issuer, treasury=treasury, fee=fee, asset=kes)
    user = Keypair.random()
    submit(server, treasury, lambda b: b.append_change_trust_op(kes))
    submit(server, issuer, lambda b: b.append_payment_op(treasury.public_key, kes, "1000"))
    treasury_before = server.accounts().account_id(treasury.public_key).call()

    envelope = activations(  # PayTrace's own activation envelope, unchanged
        system,
        [user],
        source=treasury,
        source_sequence=server.load_account(treasury.public_key).sequence,
        max_time=datetime.now(UTC) + timedelta(minutes=2),
        passphrase=PASSPHRASE,
    )
    assert server.submit_transaction(envelope)["successful"] is True

    account = server.accounts().account_id(user.public_key).call()
    assert balances(server, user) == {"native": 0, "KES": 0}
    assert (account["num_sponsored"], account["sponsor"]) == (3, treasury.public_key)
    assert account["balances"][0]["sponsor"] == treasury.public_key
    treasury_after = server.accounts().account_id(treasury.public_key).call()
    assert treasury_after["num_sponsoring"] == treasury_before["num_sponsoring"] + 3
    assert min_balance(treasury_after) - min_balance(treasury_before) == 3 * RESERVE

    submit(server, treasury, lambda b: b.append_payment_op(user.public_key, kes, "100"))
    # With 0 XLM the user cannot pay a fee on its own...
    with pytest.raises(BadRequestError) as refused:
        submit(server, user, lambda b: b.append_payment_op(treasury.public_key, kes, "40"))
    assert refused.value.extras["result_codes"] == {"transaction": "tx_insufficient_balance"}

    # ...so the fee account bumps an inner transaction that offers no fee at all.
    def bumped(amount: str):
        inner = TransactionBuilder(server.load_account(user.public_key), PASSPHRASE, 0)
        inner = inner.append_payment_op(treasury.public_key, kes, amount).set_timeout(60).build()
        inner.sign(user)
        outer = TransactionBuilder.build_fee_bump_transaction(
            fee.public_key, 100, inner, PASSPHRASE
        )
        outer.sign(fee)
        return inner, outer

    fee_before = balances(server, fee)["native"]
    inner, outer = bumped("40")
    answer = server.submit_transaction(outer)
    assert answer["successful"] is True and answer["fee_charged"] == "200"
    assert answer["fee_account"] == fee.public_key
    assert server.transactions().transaction(inner.hash_hex()).call()["ledger"] == answer["ledger"]
    assert balances(server, user) == {"native": 0, "KES": 400_000_000 + 200_000_000}
    assert balances(server, fee)["native"] == fee_before - 200

    _, failing = bumped("1000")
    with pytest.raises(BadRequestError) as refused:
        server.submit_transaction(failing)
    assert refused.value.extras["result_codes"] == {
        "transaction": "tx_fee_bump_inner_failed",
        "inner_transaction": "tx_failed",
        "operations": ["op_underfunded"],
    }
    assert balances(server, fee)["native"] == fee_before - 400  # an applied failure pays


def test_an_account_at_its_minimum_balance_can_neither_sponsor_nor_add_a_trustline(
    server, horizon_url
):
    rich, poor, newcomer = funded(horizon_url), Keypair.random(), Keypair.random()
    submit(server, rich, lambda b: b.append_create_account_op(poor.public_key, "1"))

    with pytest.raises(BadRequestError) as refused:
        submit(
            server,
            rich,
            lambda b: (
                b.append_begin_sponsoring_future_reserves_op(
                    newcomer.public_key, source=poor.public_key
                )
                .append_create_account_op(newcomer.public_key, "0")
                .append_end_sponsoring_future_reserves_op(source=newcomer.public_key)
            ),
            rich,
            poor,
            newcomer,
        )

    assert refused.value.extras["result_codes"]["operations"][1] == "op_low_reserve"
    kes = Asset("KES", rich.public_key)
    with pytest.raises(BadRequestError) as refused:  # nor can it carry a trustline itself
        submit(
            server,
            rich,
            lambda b: b.append_change_trust_op(kes, source=poor.public_key),
            rich,
            poor,
        )
    assert refused.value.extras["result_codes"]["operations"] == ["op_low_reserve"]


def test_a_payment_between_muxed_addresses_moves_the_accounts_and_keeps_the_ids(
    server, horizon_url
):
    payer, payee = funded(horizon_url), funded(horizon_url)
    big_id = 2**64 - 5  # beyond a signed 64-bit integer
    to = MuxedAccount(payee.public_key, big_id)
    source = Account(MuxedAccount(payer.public_key, 7), server.load_account(payer).sequence)
    envelope = TransactionBuilder(source, PASSPHRASE, 100)
    envelope = envelope.append_payment_op(to.account_muxed, Asset.native(), "12.5").set_timeout(60)
    envelope = envelope.build()
    envelope.sign(payer)
    before = balances(server, payee)["native"]

    answer = server.submit_transaction(envelope)

    assert answer["account_muxed_id"] == "7"
    assert balances(server, payee)["native"] == before + 125_000_000
    record = server.payments().for_account(payee.public_key).order(desc=True).limit(1).call()
    record = record["_embedded"]["records"][0]
    assert (record["to"], record["to_muxed"], record["to_muxed_id"]) == (
        payee.public_key,
        to.account_muxed,
        str(big_id),
    )
    assert (record["from"], record["from_muxed_id"]) == (payer.public_key, "7")


def test_an_accounts_payments_page_forwards_and_backwards_with_cursors(server, horizon_url):
    payer, payee = funded(horizon_url), funded(horizon_url)

    def five_payments(builder):
        for amount in range(1, 6):
            builder.append_payment_op(payee.public_key, Asset.native(), str(amount))
        return builder

    submit(server, payer, five_payments)
    pages = server.payments().for_account(payee.public_key).order(desc=False).limit(2)
    seen, page = [], pages.call()
    while page["_embedded"]["records"]:
        seen += page["_embedded"]["records"]
        page = pages.next()

    assert [r["type"] for r in seen] == ["create_account"] + ["payment"] * 5
    assert [r["amount"] for r in seen[1:]] == [f"{n}.0000000" for n in range(1, 6)]
    ids = [int(r["paging_token"]) for r in seen]
    assert ids == sorted(set(ids))
    newest = server.payments().for_account(payee.public_key).order(desc=True).limit(4).call()
    assert [int(r["id"]) for r in newest["_embedded"]["records"]] == ids[::-1][:4]
    after = server.payments().for_account(payee.public_key).cursor(ids[2]).limit(10).call()
    assert [int(r["id"]) for r in after["_embedded"]["records"]] == ids[3:]
    assert all(r["transaction_successful"] for r in seen)


def test_the_network_resumes_its_ledgers_and_accounts_after_a_restart(tmp_path):
    with serve(tmp_path) as first:
        server = Server(first.url, client=RequestsClient(num_retries=0))
        payer, payee = funded(first.url), funded(first.url)
        envelope = TransactionBuilder(server.load_account(payer), PASSPHRASE, 100)
        envelope = envelope.append_payment_op(payee.public_key, Asset.native(), "7").set_timeout(60)
        envelope = envelope.build()
        envelope.sign(payer)
        applied = server.submit_transaction(envelope)
        before = (balances(server, payer), balances(server, payee))
        sequence = server.load_account(payer).sequence

    with serve(tmp_path) as second:
        server = Server(second.url, client=RequestsClient(num_retries=0))
        assert server.root().call()["history_latest_ledger"] >= applied["ledger"]
        assert (balances(server, payer), balances(server, payee)) == before
        assert server.load_account(payer).sequence == sequence
        found = server.transactions().transaction(envelope.hash_hex()).call()
        assert found["ledger"] == applied["ledger"]
        again = server.submit_transaction(envelope)  # still applied once
        assert (again["ledger"], again["result_xdr"]) == (applied["ledger"], applied["result_xdr"])
        assert (balances(server, payer), balances(server, payee)) == before
        payments = server.payments().for_account(payee.public_key).call()["_embedded"]["records"]
        assert [p["transaction_hash"] for p in payments][-1] == envelope.hash_hex()
        later = submit(
            server, payer, lambda b: b.append_payment_op(payee.public_key, Asset.native(), "1")
        )
        assert later["ledger"] > applied["ledger"]


def latest_ledger(server: Server) -> int:
    return server.ledgers().order(desc=True).limit(1).call()["_embedded"]["records"][0]["sequence"]


def test_concurrent_submissions_from_many_accounts_land_in_one_ledger(tmp_path):
    # Four seconds between closes: a burst of 16 submissions on a loaded CI machine
    # once outlasted a one-second interval and was split over two ledgers.
    with serve(tmp_path, close_interval_s=4.0) as network:
        server = Server(network.url, client=RequestsClient(num_retries=0))
        with ThreadPoolExecutor(16) as pool:
            payers = list(pool.map(lambda _: funded(network.url), range(16)))
        envelopes = []
        for payer in payers:  # independent transactions: each creates an account of its own
            envelope = TransactionBuilder(server.load_account(payer), PASSPHRASE, 100)
            envelope = envelope.append_create_account_op(Keypair.random().public_key, "1")
            envelope = envelope.set_timeout(60).build()
            envelope.sign(payer)
            envelopes.append(envelope)
        # Start right after a close, so that the whole burst fits in one interval.
        closed = latest_ledger(server)
        while latest_ledger(server) == closed:
            time.sleep(0.02)
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(server.submit_transaction, envelopes))
        ledger = server.ledgers().order(desc=True).limit(1).cursor((answers[0]["ledger"] + 1) << 32)
        record = ledger.call()["_embedded"]["records"][0]

    assert all(answer["successful"] for answer in answers)
    assert len({answer["ledger"] for answer in answers}) == 1
    assert record["sequence"] == answers[0]["ledger"]
    assert record["successful_transaction_count"] == 16


def test_paytraces_horizon_adapter_sorts_the_local_networks_answers(server, horizon_url):
    payer, payee = funded(horizon_url), funded(horizon_url)
    adapter = Horizon(horizon_url, timeout_s=10)

    def payment(sequence: int, max_time: int = 0) -> str:
        envelope = TransactionBuilder(Account(payer.public_key, sequence), PASSPHRASE, 100)
        envelope = envelope.append_payment_op(payee.public_key, Asset.native(), "2")
        envelope = envelope.add_time_bounds(0, max_time).build()
        envelope.sign(payer)
        return envelope.to_xdr()

    current = server.load_account(payer).sequence
    envelope = payment(current)
    applied = adapter.submit(envelope)
    assert applied.outcome is Submission.APPLIED
    assert adapter.submit(envelope).ledger == applied.ledger
    assert adapter.submit(payment(current)).outcome is Submission.APPLIED  # same bytes
    assert adapter.submit(payment(current + 5)).outcome is Submission.BAD_SEQUENCE
    assert adapter.submit(payment(current + 1, int(time.time()) - 1)).outcome is Submission.EXPIRED
    state = adapter.account(payee.public_key)
    assert state.balances["native"] == 10_002 * 10_000_000
    assert adapter.account(Keypair.random().public_key) is None
    assert server.fetch_base_fee() == 100
    assert server.fee_stats().call()["last_ledger_base_fee"] == "100"
