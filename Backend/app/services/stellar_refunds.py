"""Sending back, on-chain, a Stellar payment owed back to its sender (a payment naming a
pay order it could not pay: services/stellar_order_payments.py), or a merchant's refund
of an order paid on Stellar, exactly once.

One KES payment from the treasury (which received it) to the sender, of exactly what
arrived (stroops: a fraction of a cent too), in a transaction the treasury sources
itself: nothing else PayTrace runs sources a transaction from the treasury (settlements
and activations are sourced by channel accounts), and the refunder runs under the
incoming watcher's lock, one at a time, so the treasury's sequence is its alone.

The lifecycle is the settler's (docs/stellar.md, "Exactly once"): the envelope is
signed and SAVED (`signed`) before it is submitted; the same bytes are resent until the
network answers. Applied: `sent`, with its ledger. Refused with a bad sequence or too
late: the network decides (services/settlement_expiry.py, never this clock): applied
after all, `sent`; dead (a ledger closed past its time bound, or the treasury's
sequence passed it, and its hash not applied), forgotten and signed anew (`pending`);
else resent. Refused for good (the sender removed its
trustline, say): `failed`, for an operator. A refund of a payment owed back is no ledger
movement: that payment was never in the ledger, only in the treasury on-chain. A
merchant's refund of an order paid on Stellar (services/stellar_order_refunds.py) is
sent the same way, keyed by its own id; its ledger movement ends with the answer, in
the transaction that records it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from stellar_sdk import Account, Asset, Keypair, TransactionBuilder, TransactionEnvelope

from app.db.unit_of_work import UnitOfWork
from app.domain.records.stellar_refunds import RefundRow
from app.integrations.stellar import Submission, SubmitResult, stroops_to_amount
from app.services import rail_refunds, stellar_order_refunds
from app.services.settlement_expiry import EnvelopeBounds, Fate, Verdict
from app.services.stellar_envelopes import BASE_FEE, time_bound

MEMO = "PayTrace refund"  # what the sender's wallet shows beside it (28 bytes at most)


class Step(StrEnum):
    SENT = "sent"  # applied: record its ledger
    RESEND = "resend"  # no answer yet: the same bytes again, later
    SIGN_AGAIN = "sign_again"  # can never apply: forget it, sign anew
    FAILED = "failed"  # refused for good: an operator looks


ASK_THE_NETWORK = (Submission.BAD_SEQUENCE, Submission.EXPIRED)


def step_for(outcome: Submission, verdict: Fate | None) -> Step:
    """What a submission's answer means for a refund. After a bad-sequence or too-late
    answer (an envelope applied before answers those too) `verdict` is the network's
    word on the envelope (settlement_expiry.fate); None is the same as live."""
    if outcome is Submission.APPLIED:
        return Step.SENT
    if outcome in ASK_THE_NETWORK:
        if verdict is Fate.APPLIED:
            return Step.SENT
        return Step.SIGN_AGAIN if verdict is Fate.DEAD else Step.RESEND
    if outcome is Submission.RETRY:
        return Step.RESEND
    return Step.FAILED


def bounds(refund: RefundRow, passphrase: str) -> EnvelopeBounds:
    """What decides a signed refund's life (its source is the treasury)."""
    assert refund.envelope_xdr is not None and refund.tx_hash is not None
    assert refund.max_time is not None
    tx = TransactionEnvelope.from_xdr(refund.envelope_xdr, passphrase).transaction
    return EnvelopeBounds(refund.tx_hash, tx.source.account_id, tx.sequence, refund.max_time)


@dataclass(frozen=True, slots=True)
class Signer:
    """What signing a refund needs: the treasury's key, opened by custody (worker only)."""

    treasury: Keypair
    asset: Asset
    passphrase: str
    ttl: timedelta


def next_refund(uow: UnitOfWork) -> RefundRow | None:
    """The oldest refund to send (pending) or resend (signed), or None."""
    with uow:
        return uow.incoming.open_refund()


def sign(
    uow: UnitOfWork, refund: RefundRow, signer: Signer, sequence: int, now: datetime
) -> RefundRow:
    """Sign a pending refund's envelope from the treasury's current `sequence` and save it
    before anything is submitted; commits. Returns the refund as it now is (signed, or
    as another refunder left it)."""
    max_time = time_bound(now, signer.ttl)
    envelope = (
        TransactionBuilder(
            Account(signer.treasury.public_key, sequence), signer.passphrase, base_fee=BASE_FEE
        )
        .append_payment_op(refund.to_address, signer.asset, stroops_to_amount(refund.stroops))
        .add_text_memo(MEMO)
        .add_time_bounds(0, int(max_time.timestamp()))
        .build()
    )
    envelope.sign(signer.treasury)
    with uow:
        uow.incoming.refund_signed(
            refund.id,
            envelope_xdr=envelope.to_xdr(),
            tx_hash=envelope.hash_hex(),
            max_time=max_time,
        )
        signed = uow.incoming.refund(refund.id)
        uow.commit()
    assert signed is not None
    return signed


def record_answer(
    uow: UnitOfWork,
    refund: RefundRow,
    result: SubmitResult,
    verdict: Verdict | None,
    now: datetime | None = None,
) -> Step:
    """Record what the network answered to a signed refund (and, after a bad-sequence or
    too-late answer, its verdict); commits. A merchant's refund ends with it, in the
    same transaction (services/stellar_order_refunds.py). Returns the step."""
    step = step_for(result.outcome, verdict.fate if verdict is not None else None)
    if step is Step.RESEND:
        return step
    now = now or datetime.now(UTC)
    with uow:
        # A merchant's refund: its order's row first, the lock order of asking for it.
        merchant_refund = (
            rail_refunds.lock_pending(uow, refund_id=refund.merchant_refund_id)
            if refund.merchant_refund_id is not None and step is not Step.SIGN_AGAIN
            else None
        )
        if step is Step.SENT:
            ledger = result.ledger if result.outcome is Submission.APPLIED else None
            ledger = ledger if ledger is not None else (verdict.ledger if verdict else None)
            assert ledger is not None
            moved = uow.incoming.refund_sent(refund.id, ledger)
            if moved and merchant_refund is not None and merchant_refund.status == "pending":
                stellar_order_refunds.sent(uow, merchant_refund, refund, now)
        elif step is Step.SIGN_AGAIN:
            assert verdict is not None
            uow.incoming.refund_dead(refund.id, f"{_error(result)}; {verdict.why}")
        else:
            moved = uow.incoming.refund_failed(refund.id, _error(result))
            if moved and merchant_refund is not None and merchant_refund.status == "pending":
                stellar_order_refunds.refused(uow, merchant_refund, _error(result)[:150], now)
        uow.commit()
    return step


def _error(result: SubmitResult) -> str:
    return f"{result.outcome}: {result.result_codes or result.error}"[:500]
