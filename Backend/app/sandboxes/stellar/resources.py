"""Horizon's JSON shapes for what PayTrace's local Stellar network serves.

Only what stellar-sdk's `Server` and PayTrace read is filled in, in Horizon's field
names and types (amounts as seven-decimal strings, sequences and fees as strings
where Horizon uses strings); links are absolute, as Horizon's are.
"""

from __future__ import annotations

import base64

from stellar_sdk import FeeBumpTransactionEnvelope, TransactionBuilder
from stellar_sdk.memo import HashMemo, IdMemo, ReturnHashMemo, TextMemo

from app.sandboxes.stellar.amounts import format_amount
from app.sandboxes.stellar.codes import empty_changes_xdr
from app.sandboxes.stellar.network import PROTOCOL_VERSION, toid

HAL_JSON = "application/hal+json"
DEV_TOOL = (
    "PayTrace's local Horizon-compatible Stellar network: a development tool. "
    "Not a Stellar network; nothing here is worth anything."
)
_PAGED = "{?cursor,limit,order}"
_PERCENTILES = ("p10", "p20", "p30", "p40", "p50", "p60", "p70", "p80", "p90", "p95", "p99")


def root(base: str, latest: dict, passphrase: str) -> dict:
    return {
        "_links": {
            "account": {"href": f"{base}/accounts/{{account_id}}", "templated": True},
            "friendbot": {"href": f"{base}/friendbot{{?addr}}", "templated": True},
            "transaction": {"href": f"{base}/transactions/{{hash}}", "templated": True},
            "fee_stats": {"href": f"{base}/fee_stats"},
            "payments": {"href": f"{base}/payments{_PAGED}", "templated": True},
            "self": {"href": f"{base}/"},
        },
        "horizon_version": "paytrace-local-network",
        "core_version": "paytrace-local-network",
        "development_tool": True,
        "description": DEV_TOOL,
        "ingest_latest_ledger": latest["sequence"],
        "history_latest_ledger": latest["sequence"],
        "history_latest_ledger_closed_at": latest["closed_at"],
        "history_elder_ledger": 1,
        "core_latest_ledger": latest["sequence"],
        "network_passphrase": passphrase,
        "current_protocol_version": PROTOCOL_VERSION,
        "supported_protocol_version": PROTOCOL_VERSION,
        "core_supported_protocol_version": PROTOCOL_VERSION,
    }


def _asset_type(code: str) -> str:
    return "credit_alphanum4" if len(code) <= 4 else "credit_alphanum12"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def account(base: str, row: dict, lines: list[dict]) -> dict:
    account_id = row["account_id"]
    balances = [
        {
            "balance": format_amount(line["balance"]),
            "limit": format_amount(line["trust_limit"]),
            "buying_liabilities": "0.0000000",
            "selling_liabilities": "0.0000000",
            "last_modified_ledger": line["last_modified_ledger"],
            "is_authorized": True,
            "is_authorized_to_maintain_liabilities": True,
            "is_clawback_enabled": False,
            "asset_type": _asset_type(line["asset_code"]),
            "asset_code": line["asset_code"],
            "asset_issuer": line["asset_issuer"],
        }
        | ({"sponsor": line["sponsor"]} if line["sponsor"] else {})
        for line in lines
    ]
    balances.append(
        {
            "balance": format_amount(row["balance"]),
            "buying_liabilities": "0.0000000",
            "selling_liabilities": "0.0000000",
            "asset_type": "native",
        }
    )
    href = f"{base}/accounts/{account_id}"
    resource = {
        "_links": {
            "self": {"href": href},
            "transactions": {"href": f"{href}/transactions{_PAGED}", "templated": True},
            "payments": {"href": f"{href}/payments{_PAGED}", "templated": True},
            "data": {"href": f"{href}/data/{{key}}", "templated": True},
        },
        "id": account_id,
        "account_id": account_id,
        "sequence": str(row["seq_num"]),
        "subentry_count": row["num_subentries"],
        "last_modified_ledger": row["last_modified_ledger"],
        "thresholds": {"low_threshold": 0, "med_threshold": 0, "high_threshold": 0},
        "flags": {
            "auth_required": False,
            "auth_revocable": False,
            "auth_immutable": False,
            "auth_clawback_enabled": False,
        },
        "balances": balances,
        "signers": [{"weight": 1, "key": account_id, "type": "ed25519_public_key"}],
        "data": {},
        "num_sponsoring": row["num_sponsoring"],
        "num_sponsored": row["num_sponsored"],
        "paging_token": account_id,
    }
    if row["sponsor"]:
        resource["sponsor"] = row["sponsor"]
    return resource


def _memo(memo) -> dict:
    if isinstance(memo, TextMemo):
        text = memo.memo_text
        return {
            "memo_type": "text",
            "memo": text.decode("utf-8", "replace"),
            "memo_bytes": _b64(text),
        }
    if isinstance(memo, IdMemo):
        return {"memo_type": "id", "memo": str(memo.memo_id)}
    if isinstance(memo, HashMemo):
        return {"memo_type": "hash", "memo": _b64(memo.memo_hash)}
    if isinstance(memo, ReturnHashMemo):
        return {"memo_type": "return", "memo": _b64(memo.memo_return)}
    return {"memo_type": "none"}


def transaction(base: str, row: dict, passphrase: str, requested_hash: str | None = None) -> dict:
    """A transaction as Horizon shows it; asked for by a fee bump's inner hash, its top-level
    hash, signatures and max fee are the inner transaction's, as on Horizon."""
    envelope = TransactionBuilder.from_xdr(row["envelope_xdr"], passphrase)
    bump = envelope.transaction if isinstance(envelope, FeeBumpTransactionEnvelope) else None
    inner = bump.inner_transaction_envelope if bump is not None else envelope
    tx = inner.transaction
    by_inner = bump is not None and requested_hash == row["inner_hash"]
    shown = inner if bump is None or by_inner else envelope
    tx_hash = row["inner_hash"] if by_inner else row["hash"]
    resource = {
        "_links": {
            "self": {"href": f"{base}/transactions/{tx_hash}"},
            "account": {"href": f"{base}/accounts/{tx.source.account_id}"},
            "ledger": {"href": f"{base}/ledgers/{row['ledger']}"},
        },
        "id": tx_hash,
        "paging_token": str(toid(row["ledger"], row["application_order"])),
        "successful": bool(row["successful"]),
        "hash": tx_hash,
        "ledger": row["ledger"],
        "created_at": row["closed_at"],
        "source_account": tx.source.account_id,
        "source_account_sequence": str(tx.sequence),
        "fee_account": row["fee_account"],
        "fee_charged": str(row["fee_charged"]),
        "max_fee": str(shown.transaction.fee),
        "operation_count": row["operation_count"],
        "envelope_xdr": row["envelope_xdr"],
        "result_xdr": row["result_xdr"],
        "result_meta_xdr": row["result_meta_xdr"],
        "fee_meta_xdr": empty_changes_xdr(),
        "signatures": [_b64(s.signature) for s in shown.signatures],
    } | _memo(tx.memo)
    if tx.source.account_muxed_id is not None:
        resource["account_muxed"] = tx.source.account_muxed
        resource["account_muxed_id"] = str(tx.source.account_muxed_id)
    bounds = tx.preconditions.time_bounds if tx.preconditions else None
    if bounds is not None:
        resource["preconditions"] = {
            "timebounds": {"min_time": str(bounds.min_time), "max_time": str(bounds.max_time)}
        }
    if bump is not None:
        if bump.fee_source.account_muxed_id is not None:
            resource["fee_account_muxed"] = bump.fee_source.account_muxed
            resource["fee_account_muxed_id"] = str(bump.fee_source.account_muxed_id)
        resource["fee_bump_transaction"] = {
            "hash": row["hash"],
            "signatures": [_b64(s.signature) for s in envelope.signatures],
        }
        resource["inner_transaction"] = {
            "hash": row["inner_hash"],
            "signatures": [_b64(s.signature) for s in inner.signatures],
            "max_fee": str(tx.fee),
        }
    return resource


def ledger(base: str, row: dict, base_fee: int, base_reserve: int) -> dict:
    return {
        "_links": {"self": {"href": f"{base}/ledgers/{row['sequence']}"}},
        "id": row["hash"],
        "paging_token": str(row["sequence"] << 32),
        "hash": row["hash"],
        "prev_hash": row["prev_hash"],
        "sequence": row["sequence"],
        "successful_transaction_count": row["successful_transaction_count"],
        "failed_transaction_count": row["failed_transaction_count"],
        "operation_count": row["operation_count"],
        "closed_at": row["closed_at"],
        "total_coins": format_amount(row["total_coins"]),
        "fee_pool": format_amount(row["fee_pool"]),
        "base_fee_in_stroops": base_fee,
        "base_reserve_in_stroops": base_reserve,
        "max_tx_set_size": 1000,
        "protocol_version": PROTOCOL_VERSION,
    }


def payment(base: str, row: dict) -> dict:
    """A create_account or payment operation as Horizon's /payments lists it."""
    op_id = str(row["id"])
    resource = {
        "_links": {
            "self": {"href": f"{base}/operations/{op_id}"},
            "transaction": {"href": f"{base}/transactions/{row['transaction_hash']}"},
        },
        "id": op_id,
        "paging_token": op_id,
        "transaction_successful": True,  # only successful transactions' operations are kept
        "source_account": row["source_account"],
        "type": row["type"],
        "type_i": 0 if row["type"] == "create_account" else 1,
        "created_at": row["closed_at"],
        "transaction_hash": row["transaction_hash"],
    }
    if row["type"] == "create_account":
        return resource | {
            "starting_balance": format_amount(row["amount"]),
            "funder": row["from_account"],
            "account": row["to_account"],
        }
    if row["asset_code"] is None:
        resource["asset_type"] = "native"
    else:
        code = row["asset_code"]
        resource["asset_type"] = _asset_type(code)
        resource |= {"asset_code": code, "asset_issuer": row["asset_issuer"]}
    resource |= {"from": row["from_account"], "to": row["to_account"]}
    resource["amount"] = format_amount(row["amount"])
    # Horizon shows muxed fields only for muxed accounts.
    if row["from_muxed"]:
        resource |= {
            "source_account_muxed": row["from_muxed"],
            "source_account_muxed_id": row["from_muxed_id"],
            "from_muxed": row["from_muxed"],
            "from_muxed_id": row["from_muxed_id"],
        }
    if row["to_muxed"]:
        resource |= {"to_muxed": row["to_muxed"], "to_muxed_id": row["to_muxed_id"]}
    return resource


def page(self_href: str, next_href: str, prev_href: str, records: list[dict]) -> dict:
    return {
        "_links": {
            "self": {"href": self_href},
            "next": {"href": next_href},
            "prev": {"href": prev_href},
        },
        "_embedded": {"records": records},
    }


def fee_stats(latest: dict, base_fee: int) -> dict:
    # Ledgers here never fill up, so every percentile is the base fee.
    fees = {key: str(base_fee) for key in ("max", "min", "mode", *_PERCENTILES)}
    return {
        "last_ledger": str(latest["sequence"]),
        "last_ledger_base_fee": str(base_fee),
        "ledger_capacity_usage": "0.00",
        "fee_charged": fees,
        "max_fee": dict(fees),
    }
