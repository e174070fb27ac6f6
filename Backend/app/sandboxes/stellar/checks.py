"""What an envelope must pass before it may enter a ledger, in Stellar core's order.

A regular transaction: operations present, time/ledger bounds, fee ≥ ops × base fee,
source exists, sequence = source's + 1, signed by the source, fee affordable, each
operation signed by its source and well formed, no signature left unused.
A fee bump: outer fee ≥ (inner ops + 1) × base fee and a fee rate at least the inner
one's, fee source exists, signed by it, fee affordable, no unused outer signature;
then the inner transaction's own checks, without its fee (CAP-15).

An envelope that fails here is refused at once: no fee, no sequence number used.
"""

from __future__ import annotations

from dataclasses import dataclass

from stellar_sdk import (
    FeeBumpTransaction,
    FeeBumpTransactionEnvelope,
    Keypair,
    TransactionBuilder,
    TransactionEnvelope,
)
from stellar_sdk.exceptions import BadSignatureError

from app.sandboxes.stellar.codes import Outcome
from app.sandboxes.stellar.operations import check_operation, operation_type
from app.sandboxes.stellar.store import LedgerState

# Horizon refuses bodies far below this; it only bounds the work a bad client causes.
MAX_ENVELOPE_CHARS = 200_000


class MalformedEnvelope(ValueError):
    """The `tx` field is not a transaction envelope XDR."""


@dataclass(frozen=True)
class Decoded:
    """A submitted envelope, decoded for this network's passphrase."""

    xdr: str
    envelope: TransactionEnvelope | FeeBumpTransactionEnvelope
    hash: bytes
    inner: TransactionEnvelope  # the transaction whose operations run
    inner_hash: bytes

    @property
    def fee_bump(self) -> FeeBumpTransaction | None:
        if isinstance(self.envelope, FeeBumpTransactionEnvelope):
            return self.envelope.transaction
        return None


@dataclass(frozen=True)
class Rules:
    """The network parameters and the moment an envelope is judged against."""

    base_fee: int
    now: int  # unix seconds: the close time of the ledger being built
    ledger_seq: int


def decode(envelope_xdr: str, passphrase: str) -> Decoded:
    """Decode a base64 envelope (regular or fee bump); raises MalformedEnvelope."""
    if not envelope_xdr or len(envelope_xdr) > MAX_ENVELOPE_CHARS:
        raise MalformedEnvelope("tx is empty or too large")
    try:
        envelope = TransactionBuilder.from_xdr(envelope_xdr, passphrase)
        if isinstance(envelope, FeeBumpTransactionEnvelope):
            inner = envelope.transaction.inner_transaction_envelope
        else:
            inner = envelope
        return Decoded(envelope_xdr, envelope, envelope.hash(), inner, inner.hash())
    except Exception as exc:  # any decoding failure is the client's malformed input
        raise MalformedEnvelope(f"tx is not a transaction envelope: {type(exc).__name__}") from exc


class SignatureChecker:
    """Which accounts signed a payload, remembering which signatures were needed.

    Accounts here only have their master key, so "signed by A" means one signature whose
    hint is A's and which verifies with A's key over this network's hash."""

    def __init__(self, payload_hash: bytes, signatures) -> None:
        self._hash = payload_hash
        self._signatures = list(signatures)
        self._used = [False] * len(self._signatures)

    def signed_by(self, account_id: str) -> bool:
        key = Keypair.from_public_key(account_id)
        hint = key.signature_hint()
        for index, decorated in enumerate(self._signatures):
            if decorated.signature_hint != hint:
                continue
            try:
                key.verify(self._hash, decorated.signature)
            except BadSignatureError:
                continue
            self._used[index] = True
            return True
        return False

    def all_used(self) -> bool:
        return all(self._used)


def check_envelope(state: LedgerState, decoded: Decoded, rules: Rules) -> Outcome | None:
    """The refusal for this envelope, or None when it may be applied now."""
    fee_bump = decoded.fee_bump
    if fee_bump is None:
        return check_transaction(state, decoded.inner, rules, charge_fee=True)
    inner_ops = len(decoded.inner.transaction.operations)

    def refuse(code: str) -> Outcome:
        # Core reports the full bid as "fee charged" on refusals, though nothing is charged.
        return Outcome(code, fee_charged=fee_bump.fee)

    inner_fee = decoded.inner.transaction.fee
    if fee_bump.fee < rules.base_fee * (inner_ops + 1):
        return refuse("tx_insufficient_fee")
    if inner_ops and fee_bump.fee * inner_ops < inner_fee * (inner_ops + 1):
        return refuse("tx_insufficient_fee")  # the bump must not lower the fee rate
    payer = state.account(fee_bump.fee_source.account_id)
    if payer is None:
        return refuse("tx_no_source_account")
    checker = SignatureChecker(decoded.hash, decoded.envelope.signatures)
    if not checker.signed_by(payer.account_id):
        return refuse("tx_bad_auth")
    if state.available(payer) < fee_bump.fee:
        return refuse("tx_insufficient_balance")
    if not checker.all_used():
        return refuse("tx_bad_auth_extra")
    inner = check_transaction(state, decoded.inner, rules, charge_fee=False)
    if inner is not None:
        return Outcome(
            "tx_fee_bump_inner_failed",
            fee_charged=fee_bump.fee,
            inner=inner,
            inner_hash=decoded.inner_hash,
        )
    return None


def _bounds_refusal(envelope: TransactionEnvelope, rules: Rules) -> str | None:
    preconditions = envelope.transaction.preconditions
    if preconditions is None:
        return None
    if (
        preconditions.min_sequence_age
        or preconditions.min_sequence_ledger_gap
        or preconditions.extra_signers
    ):
        return "tx_not_supported"  # real networks accept these; this one does not model them
    time_bounds = preconditions.time_bounds
    if time_bounds is not None:
        if time_bounds.min_time and time_bounds.min_time > rules.now:
            return "tx_too_early"
        if time_bounds.max_time and time_bounds.max_time < rules.now:
            return "tx_too_late"
    ledger_bounds = preconditions.ledger_bounds
    if ledger_bounds is not None:
        if ledger_bounds.min_ledger > rules.ledger_seq:
            return "tx_too_early"
        if ledger_bounds.max_ledger and ledger_bounds.max_ledger <= rules.ledger_seq:
            return "tx_too_late"
    return None


def _sequence_ok(envelope: TransactionEnvelope, account_seq: int, rules: Rules) -> bool:
    tx = envelope.transaction
    # A sequence number a newly created account could start with is never usable in
    # that same ledger (core's guard against replay after a merge and re-create).
    if tx.sequence == rules.ledger_seq << 32:
        return False
    minimum = tx.preconditions.min_sequence_number if tx.preconditions else None
    if minimum is not None:
        return minimum <= account_seq < tx.sequence
    return tx.sequence == account_seq + 1


def check_transaction(
    state: LedgerState, envelope: TransactionEnvelope, rules: Rules, *, charge_fee: bool
) -> Outcome | None:
    """The refusal for a regular transaction (or a fee bump's inner one, charge_fee=False)."""
    tx = envelope.transaction
    types = tuple(operation_type(op) for op in tx.operations)

    def refuse(code: str, operations: tuple = ()) -> Outcome:
        # An inner transaction's result always reports a fee of 0.
        return Outcome(code, fee_charged=tx.fee if charge_fee else 0, operations=operations)

    if not tx.operations:
        return refuse("tx_missing_operation")
    bounds = _bounds_refusal(envelope, rules)
    if bounds:
        return refuse(bounds)
    if charge_fee and tx.fee < rules.base_fee * len(tx.operations):
        return refuse("tx_insufficient_fee")
    source = state.account(tx.source.account_id)
    if source is None:
        return refuse("tx_no_source_account")
    if not _sequence_ok(envelope, source.seq_num, rules):
        return refuse("tx_bad_seq")
    checker = SignatureChecker(envelope.hash(), envelope.signatures)
    if not checker.signed_by(source.account_id):
        return refuse("tx_bad_auth")
    if charge_fee and state.available(source) < tx.fee:
        return refuse("tx_insufficient_balance")
    for index, op in enumerate(tx.operations):
        op_source = (op.source or tx.source).account_id
        code = "op_bad_auth" if not checker.signed_by(op_source) else check_operation(op, op_source)
        if code != "op_success":
            # Core stops at the first invalid operation; the rest keep their default code.
            codes = ["op_success"] * len(types)
            codes[index] = code
            return refuse("tx_failed", tuple(zip(types, codes, strict=True)))
    if not checker.all_used():
        return refuse("tx_bad_auth_extra")
    return None
