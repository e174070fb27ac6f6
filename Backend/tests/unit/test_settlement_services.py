"""The settler's decisions as services: planning a round, signing and saving an
envelope before it is sent, and what each answer of the network records (fakes only)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from stellar_sdk import Asset, Keypair, TransactionBuilder

from app.db.repositories.settlements import OpenSettlement, SettlementLeg
from app.db.repositories.stellar import SignedEnvelope
from app.integrations.stellar import (
    AccountState,
    FakeStellarNetwork,
    StellarUnavailable,
    Submission,
    SubmitResult,
)
from app.services import settlement_answers, settlement_rounds, settlement_submission
from app.services.custody import SecretBox, SystemAccounts, UndecryptableSecret
from app.services.settlement_answers import Step
from app.services.settlement_plan import plan
from app.services.settlement_submission import Signing
from tests.unit.fake_settlements import FakeSettlements, FakeSettlementsUnitOfWork

PASSPHRASE = "PayTrace Local Network ; development only"  # the fake network's
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
ISSUER, TREASURY, FEE, CHANNEL = (Keypair.random() for _ in range(4))
SYSTEM = SystemAccounts(ISSUER, TREASURY, FEE, Asset("KES", ISSUER.public_key), channels=(CHANNEL,))
BOX = SecretBox([Fernet.generate_key().decode()])
SIGNING = Signing(SYSTEM, BOX, PASSPHRASE, timedelta(seconds=60))
ALICE, BOB = Keypair.random(), Keypair.random()


def wallet(party: int, amount: int, keypair: Keypair) -> SettlementLeg:
    return SettlementLeg(amount, party, keypair.public_key, True)


def movement(tx_id: int, *legs: SettlementLeg) -> OpenSettlement:
    parties = frozenset(leg.party for leg in legs if leg.party is not None)
    payers = frozenset(leg.party for leg in legs if leg.party is not None and leg.amount < 0)
    return OpenSettlement(tx_id, "pending", payers, parties, legs, None)


def transfer(tx_id: int) -> OpenSettlement:
    """Alice pays Bob 10.00 and the treasury a 0.50 fee."""
    return movement(
        tx_id,
        wallet(1, -1050, ALICE),
        wallet(2, 1000, BOB),
        SettlementLeg(50, 0, None, True),
    )


def envelope(*, max_time: datetime = NOW + timedelta(seconds=60)) -> SignedEnvelope:
    return SignedEnvelope(
        7, None, CHANNEL.public_key, 41, "ab" * 32, "AAAA", max_time, "signed", None
    )


def uow_with(**rows: object) -> FakeSettlementsUnitOfWork:
    return FakeSettlementsUnitOfWork(FakeSettlements(**rows))


# ---- planning a round -------------------------------------------------------------------


def test_a_round_with_nothing_pending_plans_nothing_and_writes_nothing():
    uow = uow_with()
    planned = settlement_rounds.plan_round(uow, max_batches=4)
    assert not planned and uow.committed == []


def test_a_movement_netting_to_no_payment_is_recorded_settled_with_the_plan():
    nothing = movement(3, wallet(1, -100, ALICE), wallet(1, 100, ALICE))
    uow = uow_with(pending_rows=[transfer(2), nothing])
    planned = settlement_rounds.plan_round(uow, max_batches=4)
    assert [[s.transaction_id for s in b.settlements] for b in planned.batches] == [[2]]
    assert planned.settled_without_payment == 1
    assert uow.committed == [("settled_without_payment", [3])]


def test_a_payer_with_a_movement_in_flight_is_held_back_by_the_round():
    uow = uow_with(pending_rows=[transfer(2)], blocked={1})
    assert not settlement_rounds.plan_round(uow, max_batches=4)


def test_waiting_wallets_go_eighteen_to_an_envelope():
    waiting = [(f"G{i:055d}", f"token-{i}") for i in range(40)]
    uow = uow_with(waiting_wallets=waiting)
    groups = settlement_rounds.waiting_activations(uow, channels=3)
    assert [len(g) for g in groups] == [18, 18, 4]


def test_one_waiting_wallet_is_work_outstanding():
    assert settlement_rounds.outstanding(uow_with()) == 0
    assert settlement_rounds.outstanding(uow_with(waiting_wallets=[("G", "t")])) == 1


# ---- signing and saving -----------------------------------------------------------------


def test_a_batch_is_signed_by_its_channel_and_payers_and_saved_before_it_is_sent():
    uow = uow_with(secrets={ALICE.public_key: BOX.encrypt(ALICE.secret)})
    (batch,), _ = plan([transfer(2)], set(), max_batches=1)
    saved = settlement_submission.sign_batch(
        uow, SIGNING, batch, channel=CHANNEL, sequence=41, now=NOW
    )
    assert uow.committed == [("envelope", 1, "settlement"), ("submitted", [2], 1)]
    assert saved.max_time == NOW + timedelta(seconds=60)
    assert (saved.id, saved.source, saved.sequence, saved.status) == (
        1,
        CHANNEL.public_key,
        42,
        "signed",
    )
    signed = TransactionBuilder.from_xdr(saved.envelope_xdr, PASSPHRASE)
    assert signed.hash_hex() == saved.tx_hash
    assert len(signed.transaction.operations) == 2  # to Bob, and the fee to the treasury
    for signer, signature in zip((CHANNEL, ALICE), signed.signatures, strict=True):
        signer.verify(signed.hash(), signature.signature)  # raises if not theirs


def test_a_seed_no_key_opens_signs_nothing_and_saves_nothing():
    other = SecretBox([Fernet.generate_key().decode()])
    uow = uow_with(secrets={ALICE.public_key: other.encrypt(ALICE.secret)})
    (batch,), _ = plan([transfer(2)], set(), max_batches=1)
    with pytest.raises(UndecryptableSecret):
        settlement_submission.sign_batch(uow, SIGNING, batch, channel=CHANNEL, sequence=41, now=NOW)
    assert uow.committed == []


def test_an_activation_envelope_marks_its_wallets_activating_in_the_same_commit():
    uow = uow_with()
    wallets = [(k.public_key, BOX.encrypt(k.secret)) for k in (ALICE, BOB)]
    saved = settlement_submission.sign_activations(
        uow, SIGNING, wallets, channel=CHANNEL, sequence=41, now=NOW
    )
    assert uow.committed == [
        ("envelope", 1, "activations"),
        ("activating", [ALICE.public_key, BOB.public_key], 1),
    ]
    signed = TransactionBuilder.from_xdr(saved.envelope_xdr, PASSPHRASE)
    assert len(signed.signatures) == 4  # the channel, the treasury, both users


# ---- the network's answers --------------------------------------------------------------


def network(*, closed_at: datetime, channel_sequence: int = 40) -> FakeStellarNetwork:
    return FakeStellarNetwork(
        accounts={CHANNEL.public_key: AccountState(CHANNEL.public_key, channel_sequence, {})},
        close_clock=lambda: closed_at,
    )


def answer(uow, net, result: SubmitResult, purpose: str = "settlement"):
    return settlement_answers.record_answer(uow, net, envelope(), purpose, result)


def test_an_applied_envelope_is_recorded_settled_and_frees_its_channel():
    uow = uow_with()
    step = answer(uow, network(closed_at=NOW), SubmitResult(Submission.APPLIED, ledger=9))
    assert step.step is Step.DONE
    assert uow.committed == [("settled", 7, "ab" * 32, 9)]


def test_a_retry_records_nothing_and_resends_the_same_bytes():
    uow = uow_with()
    step = answer(uow, network(closed_at=NOW), SubmitResult(Submission.RETRY, error="504"))
    assert (step.step, step.why, uow.entered) == (Step.RESEND, "504", 0)


def test_too_late_by_its_own_word_but_not_by_the_networks_is_resent_not_rebuilt():
    uow = uow_with()
    step = answer(uow, network(closed_at=NOW), SubmitResult(Submission.EXPIRED))
    assert step.step is Step.LIVE and uow.entered == 0


def test_dead_by_the_networks_word_releases_what_it_carried():
    uow = uow_with()
    late = network(closed_at=NOW + timedelta(hours=1))
    assert answer(uow, late, SubmitResult(Submission.BAD_SEQUENCE)).step is Step.FREED
    assert uow.committed == [("release", 7, "dead", {})]


def test_dead_activations_are_finished_dead():
    uow = uow_with()
    late = network(closed_at=NOW + timedelta(hours=1))
    answer(uow, late, SubmitResult(Submission.EXPIRED), purpose="activations")
    assert uow.committed == [("finish_activations", 7, "dead", {})]


def test_an_envelope_whose_hash_is_on_the_ledger_is_settled_however_late():
    uow = uow_with()
    late = network(closed_at=NOW + timedelta(hours=1))
    late.hashes["ab" * 32] = 77
    assert answer(uow, late, SubmitResult(Submission.EXPIRED)).step is Step.DONE
    assert uow.committed == [("settled", 7, "ab" * 32, 77)]


def test_a_network_that_cannot_be_asked_records_nothing():
    class Down(FakeStellarNetwork):
        def latest_ledger(self):
            raise StellarUnavailable("connection refused")

    uow = uow_with()
    with pytest.raises(StellarUnavailable):
        answer(uow, Down(), SubmitResult(Submission.BAD_SEQUENCE))
    assert uow.entered == 0


def test_a_refusal_parks_only_the_movements_whose_operations_failed():
    carried = [transfer(2), transfer(3)]
    uow = uow_with(carried={7: carried})
    codes = {"transaction": "tx_failed", "operations": ["op_success"] * 2 + ["op_underfunded"] * 2}
    step = answer(uow, network(closed_at=NOW), SubmitResult(Submission.FAILED, result_codes=codes))
    assert step.step is Step.FREED  # a refused transaction may have used its sequence
    assert uow.committed == [
        (
            "release",
            7,
            "failed",
            {"failed": {3: "op_underfunded, op_underfunded"}, "result_codes": codes},
        )
    ]


def test_a_refusal_naming_no_operation_parks_every_movement():
    failed = settlement_answers.failing_movements(
        [transfer(2), transfer(3)], {"transaction": "tx_bad_auth"}
    )
    assert failed == {2: "tx_bad_auth", 3: "tx_bad_auth"}


def test_refused_activations_count_wallets_on_chain_active_and_park_the_others():
    ok, bad = ["op_success"] * 4, ["op_success", "op_already_exists", "op_success", "op_success"]
    codes = {"operations": ok + bad + bad}
    on_chain = {"GB"}
    active, failed = settlement_answers.refused_activations(
        ["GA", "GB", "GC"], codes, on_chain=on_chain.__contains__
    )
    assert (active, failed) == (["GB"], ["GC"])  # GA goes again: refused for another's sake


def test_refused_activations_naming_no_operation_park_every_wallet_not_on_chain():
    active, failed = settlement_answers.refused_activations(
        ["GA", "GB"], {"transaction": "tx_failed"}, on_chain={"GA"}.__contains__
    )
    assert (active, failed) == (["GA"], ["GB"])


def test_a_refused_activation_envelope_records_which_wallets_are_on_chain():
    uow = uow_with(activating_wallets={7: [ALICE.public_key, BOB.public_key]})
    net = network(closed_at=NOW)
    net.accounts[ALICE.public_key] = AccountState(ALICE.public_key, 1, {})
    codes = {"transaction": "tx_failed"}
    result = SubmitResult(Submission.FAILED, result_codes=codes)
    assert answer(uow, net, result, purpose="activations").step is Step.FREED
    extra = {"active": [ALICE.public_key], "failed": [BOB.public_key], "result_codes": codes}
    assert uow.committed == [("finish_activations", 7, "failed", extra)]


def test_past_its_time_bound_by_this_clock_the_network_is_asked_before_any_resend():
    late = NOW + timedelta(seconds=61)
    assert settlement_answers.ask_before_resending(envelope(), now=late, live_by_network=False)
    assert not settlement_answers.ask_before_resending(envelope(), now=NOW, live_by_network=False)


def test_once_the_network_said_live_the_same_bytes_go_again_before_it_is_asked_again():
    late = NOW + timedelta(seconds=61)
    assert not settlement_answers.ask_before_resending(envelope(), now=late, live_by_network=True)


def test_a_channel_missing_on_the_network_or_a_network_down_sits_the_round_out():
    class Down(FakeStellarNetwork):
        def account(self, address):
            raise StellarUnavailable("connection refused")

    assert settlement_submission.channel_sequence(network(closed_at=NOW), CHANNEL.public_key) == 40
    assert settlement_submission.channel_sequence(network(closed_at=NOW), ALICE.public_key) is None
    assert settlement_submission.channel_sequence(Down(), CHANNEL.public_key) is None
