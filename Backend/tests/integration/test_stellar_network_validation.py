"""PayTrace's local Stellar network refuses what the real network refuses, with the
same result codes, over real HTTP through the official stellar-sdk `Server`."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from stellar_sdk import Account, Asset, Keypair, Network, Server, TransactionBuilder
from stellar_sdk.exceptions import BadRequestError, NotFoundError
from stellar_sdk.xdr import TransactionResult, TransactionResultCode

from app.sandboxes.stellar import DEFAULT_PASSPHRASE
from app.sandboxes.stellar.amounts import parse_amount
from app.sandboxes.stellar.network import LocalNetwork
from tests.support.stellar_network import funded

PASSPHRASE = DEFAULT_PASSPHRASE
FEE = 100


def builder(server: Server, source: Keypair, **kwargs) -> TransactionBuilder:
    kwargs.setdefault("base_fee", FEE)
    kwargs.setdefault("network_passphrase", PASSPHRASE)
    return TransactionBuilder(server.load_account(source.public_key), **kwargs)


def native(server: Server, keypair: Keypair) -> int:
    balances = server.accounts().account_id(keypair.public_key).call()["balances"]
    return next(parse_amount(b["balance"]) for b in balances if b["asset_type"] == "native")


def sequence(server: Server, keypair: Keypair) -> int:
    return server.load_account(keypair.public_key).sequence


def refusal(server: Server, envelope) -> BadRequestError:
    with pytest.raises(BadRequestError) as refused:
        server.submit_transaction(envelope)
    assert refused.value.status == 400
    assert refused.value.type == "https://stellar.org/horizon-errors/transaction_failed"
    return refused.value


def test_a_signed_payment_is_applied_once_even_when_submitted_twice(server, horizon_url):
    payer, payee = funded(horizon_url), funded(horizon_url)
    envelope = builder(server, payer).append_payment_op(payee.public_key, Asset.native(), "25")
    envelope = envelope.set_timeout(60).build()
    envelope.sign(payer)
    before_payer, before_payee = native(server, payer), native(server, payee)

    first = server.submit_transaction(envelope)
    second = server.submit_transaction(envelope)

    assert first["successful"] is True and first["hash"] == envelope.hash_hex()
    assert second == first
    assert native(server, payee) - before_payee == 250_000_000
    assert before_payer - native(server, payer) == 250_000_000 + FEE
    assert (
        server.transactions().transaction(envelope.hash_hex()).call()["ledger"] == first["ledger"]
    )
    result = TransactionResult.from_xdr(first["result_xdr"])
    assert result.result.code == TransactionResultCode.txSUCCESS
    assert result.fee_charged.int64 == FEE


def test_the_same_envelope_submitted_concurrently_is_applied_once(server, horizon_url):
    payer, payee = funded(horizon_url), funded(horizon_url)
    envelope = builder(server, payer).append_payment_op(payee.public_key, Asset.native(), "3")
    envelope = envelope.set_timeout(60).build()
    envelope.sign(payer)
    before = native(server, payee)
    answers: list[dict] = []
    threads = [
        threading.Thread(target=lambda: answers.append(server.submit_transaction(envelope)))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 4 and all(answer == answers[0] for answer in answers)
    assert native(server, payee) - before == 30_000_000


def test_a_signature_by_another_key_is_tx_bad_auth_and_costs_nothing(server, horizon_url):
    payer, payee = funded(horizon_url), funded(horizon_url)
    envelope = builder(server, payer).append_payment_op(payee.public_key, Asset.native(), "1")
    envelope = envelope.set_timeout(60).build()
    envelope.sign(Keypair.random())
    balance, seq = native(server, payer), sequence(server, payer)

    refused = refusal(server, envelope)

    assert refused.extras["result_codes"] == {"transaction": "tx_bad_auth"}
    assert (
        TransactionResult.from_xdr(refused.result_xdr).result.code
        == TransactionResultCode.txBAD_AUTH
    )
    assert (native(server, payer), sequence(server, payer)) == (balance, seq)
    with pytest.raises(NotFoundError):
        server.transactions().transaction(envelope.hash_hex()).call()


def test_an_envelope_signed_for_another_network_is_tx_bad_auth(server, horizon_url):
    payer, payee = funded(horizon_url), funded(horizon_url)
    testnet = builder(server, payer, network_passphrase=Network.TESTNET_NETWORK_PASSPHRASE)
    envelope = testnet.append_payment_op(payee.public_key, Asset.native(), "1").set_timeout(60)
    envelope = envelope.build()
    envelope.sign(payer)  # the right key, over testnet's hash

    assert refusal(server, envelope).extras["result_codes"] == {"transaction": "tx_bad_auth"}


def test_a_signature_nobody_needed_is_tx_bad_auth_extra(server, horizon_url):
    payer, payee = funded(horizon_url), funded(horizon_url)
    envelope = builder(server, payer).append_payment_op(payee.public_key, Asset.native(), "1")
    envelope = envelope.set_timeout(60).build()
    envelope.sign(payer)
    envelope.sign(payee)

    assert refusal(server, envelope).extras["result_codes"] == {"transaction": "tx_bad_auth_extra"}


def test_an_operation_whose_source_did_not_sign_is_op_bad_auth(server, horizon_url):
    payer, other = funded(horizon_url), funded(horizon_url)
    envelope = builder(server, payer).append_payment_op(
        payer.public_key, Asset.native(), "1", source=other.public_key
    )
    envelope = envelope.set_timeout(60).build()
    envelope.sign(payer)

    codes = refusal(server, envelope).extras["result_codes"]
    assert codes == {"transaction": "tx_failed", "operations": ["op_bad_auth"]}


@pytest.mark.parametrize("offset", [-1, 1], ids=["stale", "future"])
def test_a_sequence_number_other_than_the_next_is_tx_bad_seq(server, horizon_url, offset):
    payer, payee = funded(horizon_url), funded(horizon_url)
    current = sequence(server, payer)
    account = Account(payer.public_key, current + offset)
    envelope = TransactionBuilder(account, PASSPHRASE, FEE)
    envelope = envelope.append_payment_op(payee.public_key, Asset.native(), "1").set_timeout(60)
    envelope = envelope.build()
    envelope.sign(payer)

    assert refusal(server, envelope).extras["result_codes"] == {"transaction": "tx_bad_seq"}
    assert sequence(server, payer) == current


def test_an_underfunded_payment_fails_yet_pays_its_fee_and_uses_its_sequence(server, horizon_url):
    payer, payee = funded(horizon_url), funded(horizon_url)
    envelope = builder(server, payer).append_payment_op(payee.public_key, Asset.native(), "9999")
    envelope = envelope.set_timeout(60).build()
    envelope.sign(payer)
    balance, seq = native(server, payer), sequence(server, payer)

    refused = refusal(server, envelope)

    assert refused.extras["result_codes"] == {
        "transaction": "tx_failed",
        "operations": ["op_underfunded"],
    }
    assert native(server, payer) == balance - FEE
    assert sequence(server, payer) == seq + 1
    recorded = server.transactions().transaction(envelope.hash_hex()).call()
    assert recorded["successful"] is False
    again = refusal(server, envelope)  # resubmitted: the original answer, nothing re-applied
    assert again.extras == refused.extras
    assert native(server, payer) == balance - FEE


def test_operations_apply_all_or_none(server, horizon_url):
    payer, payee = funded(horizon_url), funded(horizon_url)
    envelope = (
        builder(server, payer)
        .append_payment_op(payee.public_key, Asset.native(), "10")
        .append_payment_op(payee.public_key, Asset.native(), "99999")
        .set_timeout(60)
        .build()
    )
    envelope.sign(payer)
    before = native(server, payee)

    codes = refusal(server, envelope).extras["result_codes"]

    assert codes == {"transaction": "tx_failed", "operations": ["op_success", "op_underfunded"]}
    assert native(server, payee) == before


def test_credit_payments_need_trustlines_on_both_sides_and_respect_the_limit(server, horizon_url):
    issuer, holder, stranger = funded(horizon_url), funded(horizon_url), funded(horizon_url)
    kes = Asset("KES", issuer.public_key)
    trust = builder(server, holder).append_change_trust_op(kes, limit="100").set_timeout(60)
    trust = trust.build()
    trust.sign(holder)
    server.submit_transaction(trust)

    def pay(source: Keypair, to: Keypair, amount: str) -> dict:
        envelope = builder(server, source).append_payment_op(to.public_key, kes, amount)
        envelope = envelope.set_timeout(60).build()
        envelope.sign(source)
        return refusal(server, envelope).extras["result_codes"]

    assert pay(issuer, stranger, "5")["operations"] == ["op_no_trust"]
    assert pay(stranger, holder, "5")["operations"] == ["op_src_no_trust"]
    assert pay(issuer, holder, "100.0000001")["operations"] == ["op_line_full"]


def test_an_expired_or_not_yet_valid_envelope_is_refused(server, horizon_url):
    payer, payee = funded(horizon_url), funded(horizon_url)
    now = int(time.time())
    for (min_time, max_time), code in (
        ((0, now - 5), "tx_too_late"),
        ((now + 600, 0), "tx_too_early"),
    ):
        envelope = builder(server, payer).append_payment_op(payee.public_key, Asset.native(), "1")
        envelope = envelope.add_time_bounds(min_time, max_time).build()
        envelope.sign(payer)
        assert refusal(server, envelope).extras["result_codes"] == {"transaction": code}


def test_a_fee_below_the_base_fee_per_operation_is_tx_insufficient_fee(server, horizon_url):
    payer, payee = funded(horizon_url), funded(horizon_url)
    envelope = (
        builder(server, payer, base_fee=60)
        .append_payment_op(payee.public_key, Asset.native(), "1")
        .append_payment_op(payee.public_key, Asset.native(), "1")
        .set_timeout(60)
        .build()
    )
    envelope.sign(payer)

    assert refusal(server, envelope).extras["result_codes"] == {
        "transaction": "tx_insufficient_fee"
    }


def test_an_unknown_source_account_is_tx_no_source_account(server, horizon_url):
    ghost, payee = Keypair.random(), funded(horizon_url)
    envelope = TransactionBuilder(Account(ghost.public_key, 1), PASSPHRASE, FEE)
    envelope = envelope.append_payment_op(payee.public_key, Asset.native(), "1").set_timeout(60)
    envelope = envelope.build()
    envelope.sign(ghost)

    codes = refusal(server, envelope).extras["result_codes"]
    assert codes == {"transaction": "tx_no_source_account"}


def test_account_creation_checks_reserve_and_existence(server, horizon_url):
    funder, existing = funded(horizon_url), funded(horizon_url)
    for destination, amount, code in (
        (Keypair.random().public_key, "0.9999999", "op_low_reserve"),
        (existing.public_key, "5", "op_already_exists"),
    ):
        envelope = builder(server, funder).append_create_account_op(destination, amount)
        envelope = envelope.set_timeout(60).build()
        envelope.sign(funder)
        assert refusal(server, envelope).extras["result_codes"]["operations"] == [code]


def test_sponsorship_begun_and_never_ended_is_tx_bad_sponsorship(server, horizon_url):
    sponsor, newcomer = funded(horizon_url), Keypair.random()
    envelope = (
        builder(server, sponsor)
        .append_begin_sponsoring_future_reserves_op(newcomer.public_key)
        .append_create_account_op(newcomer.public_key, "0")
        .set_timeout(60)
        .build()
    )
    envelope.sign(sponsor)

    assert refusal(server, envelope).extras["result_codes"] == {"transaction": "tx_bad_sponsorship"}
    with pytest.raises(NotFoundError):
        server.accounts().account_id(newcomer.public_key).call()


@pytest.mark.parametrize("body", [{"tx": "not-xdr"}, {"tx": ""}, {}, {"tx": "AAAA" * 10}])
def test_a_malformed_envelope_is_a_400_transaction_malformed_never_a_500(horizon_url, body):
    answer = httpx.post(f"{horizon_url}/transactions", data=body, timeout=10)

    assert answer.status_code == 400
    assert answer.json()["type"] == "https://stellar.org/horizon-errors/transaction_malformed"


def test_unknown_accounts_and_transactions_are_horizon_404s(server):
    with pytest.raises(NotFoundError):
        server.accounts().account_id(Keypair.random().public_key).call()
    with pytest.raises(NotFoundError):
        server.transactions().transaction("ab" * 32).call()


def test_a_data_directory_belongs_to_the_network_that_created_it(tmp_path):
    LocalNetwork(tmp_path).shutdown()

    with pytest.raises(ValueError, match="another passphrase"):
        LocalNetwork(tmp_path, passphrase=Network.TESTNET_NETWORK_PASSPHRASE)
    reopened = LocalNetwork(tmp_path)
    assert reopened.last_closed == 2  # genesis, then the ledger closed on shutdown
    reopened.shutdown()
