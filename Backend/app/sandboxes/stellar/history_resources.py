"""Horizon's JSON shapes for operations and effects on PayTrace's local network.

Field names, types and `type_i` numbers are Horizon's (amounts as seven-decimal
strings, ids as strings, links absolute). The network implements create_account,
payment, change_trust and begin/end sponsoring future reserves, so these are the
operations shown; their effects are the account, balance, signer and trustline
effects Horizon records for them. Sponsorship effects (the `*_sponsorship_created`
family) are not shown: nothing in PayTrace reads them.
"""

from __future__ import annotations

from collections.abc import Callable

from stellar_sdk import Asset
from stellar_sdk.operation import (
    BeginSponsoringFutureReserves,
    ChangeTrust,
    CreateAccount,
    EndSponsoringFutureReserves,
    Operation,
    Payment,
)

from app.sandboxes.stellar.amounts import parse_amount
from app.sandboxes.stellar.history import Op

OPERATION_TYPES = {  # Horizon's type names and numbers (xdr.OperationType)
    CreateAccount: ("create_account", 0),
    Payment: ("payment", 1),
    ChangeTrust: ("change_trust", 6),
    BeginSponsoringFutureReserves: ("begin_sponsoring_future_reserves", 16),
    EndSponsoringFutureReserves: ("end_sponsoring_future_reserves", 17),
}
EFFECT_TYPES = {
    "account_created": 0,
    "account_credited": 2,
    "account_debited": 3,
    "signer_created": 10,
    "trustline_created": 20,
    "trustline_removed": 21,
    "trustline_updated": 22,
}
# Had `account` a trustline to code:issuer before operation id? (replayed by the reader)
HadLine = Callable[[str, str, str, int], bool]


def _asset(asset: Asset) -> dict:
    if asset.is_native():
        return {"asset_type": "native"}
    return {"asset_type": asset.type, "asset_code": asset.code, "asset_issuer": asset.issuer}


def _amount(text: str) -> str:
    """The SDK's decimal string, in Horizon's seven decimals."""
    stroops = parse_amount(str(text))
    return f"{stroops // 10_000_000}.{stroops % 10_000_000:07d}"


def trusts(op: Operation, code: str, issuer: str) -> bool:
    """Whether op is a change_trust on code:issuer."""
    return (
        isinstance(op, ChangeTrust)
        and isinstance(op.asset, Asset)
        and (op.asset.code, op.asset.issuer) == (code, issuer)
    )


def trust_limit(op: ChangeTrust) -> int:
    return parse_amount(str(op.limit))


def operation(base: str, row: dict, op: Op) -> dict:
    """One operation as Horizon's /operations lists it."""
    name, number = OPERATION_TYPES[type(op.op)]
    op_id = str(op.id)
    resource = {
        "_links": {
            "self": {"href": f"{base}/operations/{op_id}"},
            "transaction": {"href": f"{base}/transactions/{row['hash']}"},
            "effects": {"href": f"{base}/operations/{op_id}/effects"},
            "succeeds": {"href": f"{base}/effects?order=desc&cursor={op_id}"},
            "precedes": {"href": f"{base}/effects?order=asc&cursor={op_id}"},
        },
        "id": op_id,
        "paging_token": op_id,
        "transaction_successful": bool(row["successful"]),
        "source_account": op.source,
        "type": name,
        "type_i": number,
        "created_at": row["closed_at"],
        "transaction_hash": row["hash"],
    }
    if op.source_muxed is not None:
        resource |= {
            "source_account_muxed": op.source_muxed,
            "source_account_muxed_id": str(op.source_muxed_id),
        }
    return resource | _details(op)


def _details(op: Op) -> dict:
    body = op.op
    if isinstance(body, CreateAccount):
        return {
            "starting_balance": _amount(body.starting_balance),
            "funder": op.source,
            "account": body.destination,
        }
    if isinstance(body, Payment):
        details = _asset(body.asset) | {"from": op.source, "to": body.destination.account_id}
        if op.source_muxed is not None:
            details |= {"from_muxed": op.source_muxed, "from_muxed_id": str(op.source_muxed_id)}
        if body.destination.account_muxed_id is not None:
            details |= {
                "to_muxed": body.destination.account_muxed,
                "to_muxed_id": str(body.destination.account_muxed_id),
            }
        return details | {"amount": _amount(body.amount)}
    if isinstance(body, ChangeTrust):
        return _asset(body.asset) | {
            "limit": _amount(body.limit),
            "trustee": body.asset.issuer,
            "trustor": op.source,
        }
    if isinstance(body, BeginSponsoringFutureReserves):
        return {"sponsored_id": body.sponsored_id}
    return {}


def effects(base: str, row: dict, op: Op, had_line: HadLine) -> list[dict]:
    """The effects of one operation of a successful transaction, in Horizon's order."""
    body, made = op.op, []
    if isinstance(body, CreateAccount):
        made = [
            (
                "account_created",
                body.destination,
                {"starting_balance": _amount(body.starting_balance)},
            ),
            (
                "account_debited",
                op.source,
                {"asset_type": "native", "amount": _amount(body.starting_balance)},
            ),
            (
                "signer_created",
                body.destination,
                {"weight": 1, "public_key": body.destination, "key": ""},
            ),
        ]
    elif isinstance(body, Payment):
        moved = _asset(body.asset) | {"amount": _amount(body.amount)}
        made = [
            ("account_credited", body.destination.account_id, moved),
            ("account_debited", op.source, moved),
        ]
    elif isinstance(body, ChangeTrust):
        asset, limit = body.asset, trust_limit(body)
        if limit == 0:
            kind = "trustline_removed"
        elif had_line(op.source, asset.code, asset.issuer, op.id):
            kind = "trustline_updated"
        else:
            kind = "trustline_created"
        made = [(kind, op.source, _asset(asset) | {"limit": _amount(body.limit)})]
    return [
        _effect(base, row, op.id, index, kind, account, details)
        for index, (kind, account, details) in enumerate(made, start=1)
    ]


def _effect(
    base: str, row: dict, op_id: int, index: int, kind: str, account: str, details: dict
) -> dict:
    token = f"{op_id}-{index}"
    return {
        "_links": {
            "operation": {"href": f"{base}/operations/{op_id}"},
            "succeeds": {"href": f"{base}/effects?order=desc&cursor={token}"},
            "precedes": {"href": f"{base}/effects?order=asc&cursor={token}"},
        },
        "id": f"{op_id:019d}-{index:010d}",
        "paging_token": token,
        "account": account,
        "type": kind,
        "type_i": EFFECT_TYPES[kind],
        "created_at": row["closed_at"],
    } | details
