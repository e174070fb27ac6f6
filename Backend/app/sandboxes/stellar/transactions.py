"""Applying an envelope that passed its checks: the fee, the sequence number, then the
operations, all or none.

As in Stellar core, an applied transaction always pays its fee and uses its sequence
number, even when an operation fails (`tx_failed`) or a sponsorship is left open
(`tx_bad_sponsorship`); only the operations' effects are undone. Every operation runs
even after one has failed, so each reports its own code.
"""

from __future__ import annotations

from dataclasses import dataclass

from stellar_sdk import Transaction

from app.sandboxes.stellar.checks import Decoded
from app.sandboxes.stellar.codes import Outcome
from app.sandboxes.stellar.operations import (
    SUCCESS,
    OperationContext,
    PaymentRecord,
    apply_operation,
    operation_type,
)
from app.sandboxes.stellar.store import LedgerState


@dataclass(frozen=True)
class Applied:
    """An envelope's outcome and, when it succeeded, the payments it made
    (operation index, 1-based, and record)."""

    outcome: Outcome
    payments: tuple[tuple[int, PaymentRecord], ...]
    source_account: str
    fee_account: str


def apply_envelope(state: LedgerState, decoded: Decoded, base_fee: int) -> Applied:
    """Charge the fee, consume the sequence number and run the operations of an envelope
    that check_envelope accepted."""
    tx = decoded.inner.transaction
    fee_bump = decoded.fee_bump
    ops = len(tx.operations)
    # Without surge pricing a ledger charges base fee x operations, not the whole bid;
    # a fee bump counts as one more operation.
    if fee_bump is not None:
        fee_account, fee = fee_bump.fee_source.account_id, base_fee * (ops + 1)
    else:
        fee_account, fee = tx.source.account_id, base_fee * ops
    payer = state.account(fee_account)
    charged = min(fee, payer.balance)
    payer.balance -= charged
    state.put_account(payer)

    code, operations, payments = _run_transaction(state, tx)
    if fee_bump is None:
        outcome = Outcome(code, fee_charged=charged, operations=operations)
    else:
        inner = Outcome(code, fee_charged=0, operations=operations)
        bumped = "tx_fee_bump_inner_success" if code == "tx_success" else "tx_fee_bump_inner_failed"
        outcome = Outcome(bumped, charged, inner=inner, inner_hash=decoded.inner_hash)
    return Applied(outcome, payments, tx.source.account_id, fee_account)


def _run_transaction(state: LedgerState, tx: Transaction):
    source = state.account(tx.source.account_id)
    source.seq_num = tx.sequence
    state.put_account(source)

    state.savepoint("paytrace_tx_ops")
    ctx = OperationContext(state)
    operations, payments = [], []
    for index, op in enumerate(tx.operations, start=1):
        state.savepoint("paytrace_op")
        code, record = apply_operation(ctx, op, op.source or tx.source)
        if code == SUCCESS:
            state.release("paytrace_op")
            if record is not None:
                payments.append((index, record))
        else:
            state.undo("paytrace_op")
        operations.append((operation_type(op), code))

    if any(code != SUCCESS for _, code in operations):
        state.undo("paytrace_tx_ops")
        return "tx_failed", tuple(operations), ()
    if ctx.sponsoring:
        # Every begin_sponsoring_future_reserves must be ended in the same transaction.
        state.undo("paytrace_tx_ops")
        return "tx_bad_sponsorship", (), ()
    state.release("paytrace_tx_ops")
    return "tx_success", tuple(operations), tuple(payments)
