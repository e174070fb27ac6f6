"""Result codes of PayTrace's local Stellar network, by Horizon's names, and the
`TransactionResult` XDR that carries them.

Horizon reports codes as strings (`tx_bad_seq`, `op_underfunded`); the network's own
record is the XDR. Both are derived from one `Outcome`, so they can never disagree.
The meta XDR is deliberately minimal (valid, with no ledger-entry changes): PayTrace
reads balances from `/accounts`, never from meta.
"""

from __future__ import annotations

from dataclasses import dataclass

from stellar_sdk import xdr

TxCode = xdr.TransactionResultCode
OpCode = xdr.OperationResultCode
OpType = xdr.OperationType

TRANSACTION_CODES: dict[str, xdr.TransactionResultCode] = {
    "tx_fee_bump_inner_success": TxCode.txFEE_BUMP_INNER_SUCCESS,
    "tx_success": TxCode.txSUCCESS,
    "tx_failed": TxCode.txFAILED,
    "tx_too_early": TxCode.txTOO_EARLY,
    "tx_too_late": TxCode.txTOO_LATE,
    "tx_missing_operation": TxCode.txMISSING_OPERATION,
    "tx_bad_seq": TxCode.txBAD_SEQ,
    "tx_bad_auth": TxCode.txBAD_AUTH,
    "tx_insufficient_balance": TxCode.txINSUFFICIENT_BALANCE,
    "tx_no_source_account": TxCode.txNO_ACCOUNT,
    "tx_insufficient_fee": TxCode.txINSUFFICIENT_FEE,
    "tx_bad_auth_extra": TxCode.txBAD_AUTH_EXTRA,
    "tx_internal_error": TxCode.txINTERNAL_ERROR,
    "tx_not_supported": TxCode.txNOT_SUPPORTED,
    "tx_fee_bump_inner_failed": TxCode.txFEE_BUMP_INNER_FAILED,
    "tx_bad_sponsorship": TxCode.txBAD_SPONSORSHIP,
    "tx_malformed": TxCode.txMALFORMED,
}

# Codes an operation can fail with before its own logic runs (no inner result).
_OUTER_CODES: dict[str, xdr.OperationResultCode] = {
    "op_bad_auth": OpCode.opBAD_AUTH,
    "op_no_source_account": OpCode.opNO_ACCOUNT,
    "op_not_supported": OpCode.opNOT_SUPPORTED,
    "op_too_many_subentries": OpCode.opTOO_MANY_SUBENTRIES,
    "op_too_many_sponsoring": OpCode.opTOO_MANY_SPONSORING,
}


def _names(enum, pairs: dict[str, str]) -> dict[str, object]:
    return {name: getattr(enum, member) for name, member in pairs.items()}


# For each operation the network implements: its XDR result class, the field of
# OperationResultTr that holds it, and Horizon's name for each of its codes.
_INNER: dict[xdr.OperationType, tuple[type, str, dict[str, object]]] = {
    OpType.CREATE_ACCOUNT: (
        xdr.CreateAccountResult,
        "create_account_result",
        _names(
            xdr.CreateAccountResultCode,
            {
                "op_success": "CREATE_ACCOUNT_SUCCESS",
                "op_malformed": "CREATE_ACCOUNT_MALFORMED",
                "op_underfunded": "CREATE_ACCOUNT_UNDERFUNDED",
                "op_low_reserve": "CREATE_ACCOUNT_LOW_RESERVE",
                "op_already_exists": "CREATE_ACCOUNT_ALREADY_EXIST",
            },
        ),
    ),
    OpType.PAYMENT: (
        xdr.PaymentResult,
        "payment_result",
        _names(
            xdr.PaymentResultCode,
            {
                "op_success": "PAYMENT_SUCCESS",
                "op_malformed": "PAYMENT_MALFORMED",
                "op_underfunded": "PAYMENT_UNDERFUNDED",
                "op_src_no_trust": "PAYMENT_SRC_NO_TRUST",
                "op_src_not_authorized": "PAYMENT_SRC_NOT_AUTHORIZED",
                "op_no_destination": "PAYMENT_NO_DESTINATION",
                "op_no_trust": "PAYMENT_NO_TRUST",
                "op_not_authorized": "PAYMENT_NOT_AUTHORIZED",
                "op_line_full": "PAYMENT_LINE_FULL",
                "op_no_issuer": "PAYMENT_NO_ISSUER",
            },
        ),
    ),
    OpType.CHANGE_TRUST: (
        xdr.ChangeTrustResult,
        "change_trust_result",
        _names(
            xdr.ChangeTrustResultCode,
            {
                "op_success": "CHANGE_TRUST_SUCCESS",
                "op_malformed": "CHANGE_TRUST_MALFORMED",
                "op_no_issuer": "CHANGE_TRUST_NO_ISSUER",
                "op_invalid_limit": "CHANGE_TRUST_INVALID_LIMIT",
                "op_low_reserve": "CHANGE_TRUST_LOW_RESERVE",
                "op_self_not_allowed": "CHANGE_TRUST_SELF_NOT_ALLOWED",
            },
        ),
    ),
    OpType.BEGIN_SPONSORING_FUTURE_RESERVES: (
        xdr.BeginSponsoringFutureReservesResult,
        "begin_sponsoring_future_reserves_result",
        _names(
            xdr.BeginSponsoringFutureReservesResultCode,
            {
                "op_success": "BEGIN_SPONSORING_FUTURE_RESERVES_SUCCESS",
                "op_malformed": "BEGIN_SPONSORING_FUTURE_RESERVES_MALFORMED",
                "op_already_sponsored": "BEGIN_SPONSORING_FUTURE_RESERVES_ALREADY_SPONSORED",
                "op_recursive": "BEGIN_SPONSORING_FUTURE_RESERVES_RECURSIVE",
            },
        ),
    ),
    OpType.END_SPONSORING_FUTURE_RESERVES: (
        xdr.EndSponsoringFutureReservesResult,
        "end_sponsoring_future_reserves_result",
        _names(
            xdr.EndSponsoringFutureReservesResultCode,
            {
                "op_success": "END_SPONSORING_FUTURE_RESERVES_SUCCESS",
                "op_not_sponsored": "END_SPONSORING_FUTURE_RESERVES_NOT_SPONSORED",
            },
        ),
    ),
}

SUPPORTED_OPERATIONS = frozenset(_INNER)


def operation_result(op_type: xdr.OperationType, code: str) -> xdr.OperationResult:
    """The XDR OperationResult for Horizon's `code` on an operation of `op_type`."""
    if code in _OUTER_CODES:
        return xdr.OperationResult(code=_OUTER_CODES[code])
    result_class, field, codes = _INNER[op_type]
    inner = result_class(code=codes[code])
    tr = xdr.OperationResultTr(type=op_type, **{field: inner})
    return xdr.OperationResult(code=OpCode.opINNER, tr=tr)


@dataclass(frozen=True)
class Outcome:
    """What the network says about one transaction envelope.

    `code` is Horizon's name of the top-level code; `operations` holds (type, code) for
    each operation when the code carries operation results (tx_success / tx_failed); a
    fee bump carries its inner transaction's outcome in `inner`."""

    code: str
    fee_charged: int = 0
    operations: tuple[tuple[xdr.OperationType, str], ...] = ()
    inner: Outcome | None = None
    inner_hash: bytes = b""

    @property
    def successful(self) -> bool:
        return self.code in ("tx_success", "tx_fee_bump_inner_success")

    def result_codes(self) -> dict:
        """Horizon's `extras.result_codes` for this outcome."""
        codes: dict = {"transaction": self.code}
        operations = self.operations
        if self.inner is not None:
            codes["inner_transaction"] = self.inner.code
            operations = self.inner.operations
        if operations:
            codes["operations"] = [code for _, code in operations]
        return codes

    def _op_results(self) -> list[xdr.OperationResult] | None:
        if self.code not in ("tx_success", "tx_failed"):
            return None
        return [operation_result(op_type, code) for op_type, code in self.operations]

    def to_xdr_object(self) -> xdr.TransactionResult:
        """The `TransactionResult` XDR object for this outcome."""
        code = TRANSACTION_CODES[self.code]
        if self.inner is not None:
            inner = xdr.InnerTransactionResult(
                fee_charged=xdr.Int64(0),  # always 0 for inner transactions
                result=xdr.InnerTransactionResultResult(
                    code=TRANSACTION_CODES[self.inner.code], results=self.inner._op_results()
                ),
                ext=xdr.InnerTransactionResultExt(0),
            )
            pair = xdr.InnerTransactionResultPair(xdr.Hash(self.inner_hash), inner)
            result = xdr.TransactionResultResult(code=code, inner_result_pair=pair)
        else:
            result = xdr.TransactionResultResult(code=code, results=self._op_results())
        return xdr.TransactionResult(
            fee_charged=xdr.Int64(self.fee_charged),
            result=result,
            ext=xdr.TransactionResultExt(0),
        )

    def result_xdr(self) -> str:
        """Base64 `TransactionResult` XDR, as Horizon's `result_xdr`."""
        return self.to_xdr_object().to_xdr()


def minimal_meta_xdr(operation_count: int) -> str:
    """A valid `TransactionMeta` (v1) that lists no ledger-entry changes."""
    empty = xdr.LedgerEntryChanges([])
    meta = xdr.TransactionMeta(
        v=1,
        v1=xdr.TransactionMetaV1(
            tx_changes=empty,
            operations=[xdr.OperationMeta(changes=empty) for _ in range(operation_count)],
        ),
    )
    return meta.to_xdr()


def empty_changes_xdr() -> str:
    """An empty `LedgerEntryChanges`, as the fee meta of every transaction here."""
    return xdr.LedgerEntryChanges([]).to_xdr()
