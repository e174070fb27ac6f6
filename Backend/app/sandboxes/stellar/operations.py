"""The operations PayTrace's local Stellar network implements, with core's result codes.

create_account, payment (XLM or a credit asset; the issuer mints and burns),
change_trust (create / update / remove a trustline) and CAP-33 sponsorship
(begin / end sponsoring future reserves). Anything else answers `op_not_supported`.

Each function leaves the ledger state changed only on `op_success`; the caller runs
every operation inside a savepoint and undoes it on any other code, so a check that
fails half-way through an operation can never leave a half-applied change behind.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stellar_sdk import MuxedAccount, xdr
from stellar_sdk.operation import (
    BeginSponsoringFutureReserves,
    ChangeTrust,
    CreateAccount,
    EndSponsoringFutureReserves,
    Operation,
    Payment,
)

from app.sandboxes.stellar.amounts import INT64_MAX
from app.sandboxes.stellar.store import Account, LedgerState, Trustline

SUCCESS = "op_success"


@dataclass(frozen=True)
class PaymentRecord:
    """A payment-like operation as Horizon's /payments lists it."""

    type: str  # "create_account" or "payment"
    source_account: str
    from_account: str
    to_account: str
    amount: int  # stroops; the starting balance for create_account
    from_muxed: str | None = None
    from_muxed_id: int | None = None
    to_muxed: str | None = None
    to_muxed_id: int | None = None
    asset_code: str | None = None
    asset_issuer: str | None = None


@dataclass
class OperationContext:
    """What one transaction's operations share: the ledger state and the sponsorships
    begun and not yet ended (sponsored account -> sponsor)."""

    state: LedgerState
    sponsoring: dict[str, str] = field(default_factory=dict)


def operation_type(op: Operation) -> xdr.OperationType:
    """The XDR type of an operation (what its result must be tagged with)."""
    return op.to_xdr_object().body.type


def check_operation(op: Operation, source_id: str) -> str:
    """Core's checks that need no ledger state; "op_success" when the operation is well formed."""
    body = op.to_xdr_object().body
    if isinstance(op, CreateAccount):
        bad = body.create_account_op.starting_balance.int64 < 0 or op.destination == source_id
        return "op_malformed" if bad else SUCCESS
    if isinstance(op, Payment):
        return "op_malformed" if body.payment_op.amount.int64 <= 0 else SUCCESS
    if isinstance(op, ChangeTrust):
        asset = body.change_trust_op.line
        if asset.type == xdr.AssetType.ASSET_TYPE_POOL_SHARE:
            return "op_not_supported"  # liquidity pools are not modelled here
        if asset.type == xdr.AssetType.ASSET_TYPE_NATIVE or body.change_trust_op.limit.int64 < 0:
            return "op_malformed"
        return "op_malformed" if op.asset.issuer == source_id else SUCCESS
    if isinstance(op, BeginSponsoringFutureReserves):
        return "op_malformed" if op.sponsored_id == source_id else SUCCESS
    if isinstance(op, EndSponsoringFutureReserves):
        return SUCCESS
    return "op_not_supported"


def apply_operation(
    ctx: OperationContext, op: Operation, source: MuxedAccount
) -> tuple[str, PaymentRecord | None]:
    """Apply one operation whose source is `source`; returns its code and, for a payment
    or an account creation that succeeded, its record."""
    if ctx.state.account(source.account_id) is None:
        return "op_no_source_account", None
    if isinstance(op, CreateAccount):
        return _create_account(ctx, op, source.account_id)
    if isinstance(op, Payment):
        return _payment(ctx, op, source)
    if isinstance(op, ChangeTrust):
        return _change_trust(ctx, op, source.account_id), None
    if isinstance(op, BeginSponsoringFutureReserves):
        return _begin_sponsoring(ctx, op.sponsored_id, source.account_id), None
    if isinstance(op, EndSponsoringFutureReserves):
        return _end_sponsoring(ctx, source.account_id), None
    return "op_not_supported", None


def _sponsor_reserves(ctx: OperationContext, owner_id: str, entries: int) -> str | None:
    """If owner_id's reserves are being sponsored, charge `entries` reserves to the
    sponsor (who must afford them); returns the sponsor's id, or "" when unsponsored,
    or None when the sponsor cannot afford it."""
    sponsor_id = ctx.sponsoring.get(owner_id)
    if sponsor_id is None:
        return ""
    sponsor = ctx.state.account(sponsor_id)
    if sponsor is None or ctx.state.available(sponsor) < entries * ctx.state.base_reserve:
        return None
    sponsor.num_sponsoring += entries
    ctx.state.put_account(sponsor)
    return sponsor_id


def _create_account(
    ctx: OperationContext, op: CreateAccount, source_id: str
) -> tuple[str, PaymentRecord | None]:
    state = ctx.state
    if state.account(op.destination) is not None:
        return "op_already_exists", None
    starting = op.to_xdr_object().body.create_account_op.starting_balance.int64
    # A new account's sequence number starts at the current ledger's sequence << 32.
    new = Account(op.destination, balance=starting, seq_num=state.ledger_seq << 32)
    sponsor_id = _sponsor_reserves(ctx, op.destination, 2)
    if sponsor_id is None:
        return "op_low_reserve", None
    if sponsor_id:
        new.num_sponsored, new.sponsor = 2, sponsor_id
    elif state.available(new) < 0:
        return "op_low_reserve", None
    funder = state.account(source_id)  # read again: it may be the sponsor just updated
    if state.available(funder) < starting:
        return "op_underfunded", None
    funder.balance -= starting
    state.put_account(funder)
    state.put_account(new)
    record = PaymentRecord("create_account", source_id, source_id, op.destination, starting)
    return SUCCESS, record


def _payment(
    ctx: OperationContext, op: Payment, source: MuxedAccount
) -> tuple[str, PaymentRecord | None]:
    state, asset = ctx.state, op.asset
    source_id, destination_id = source.account_id, op.destination.account_id
    amount = op.to_xdr_object().body.payment_op.amount.int64
    record = PaymentRecord(
        "payment",
        source_account=source_id,
        from_account=source_id,
        to_account=destination_id,
        amount=amount,
        from_muxed=source.account_muxed,
        from_muxed_id=source.account_muxed_id,
        to_muxed=op.destination.account_muxed,
        to_muxed_id=op.destination.account_muxed_id,
        asset_code=None if asset.is_native() else asset.code,
        asset_issuer=None if asset.is_native() else asset.issuer,
    )
    if asset.is_native():
        code = _pay_native(state, source_id, destination_id, amount)
    else:
        code = _pay_credit(state, source_id, destination_id, asset.code, asset.issuer, amount)
    return code, record if code == SUCCESS else None


def _pay_native(state: LedgerState, source_id: str, destination_id: str, amount: int) -> str:
    if source_id == destination_id:
        return SUCCESS  # XLM to oneself changes nothing
    destination = state.account(destination_id)
    if destination is None:
        return "op_no_destination"
    # Core credits the destination first, then debits the source.
    if destination.balance > INT64_MAX - amount:
        return "op_line_full"
    destination.balance += amount
    state.put_account(destination)
    source = state.account(source_id)
    if state.available(source) < amount:
        return "op_underfunded"
    source.balance -= amount
    state.put_account(source)
    return SUCCESS


def _pay_credit(
    state: LedgerState, source_id: str, destination_id: str, code: str, issuer: str, amount: int
) -> str:
    # The issuer has no trustline to its own asset: paying to it burns, paying from it mints;
    # and a payment back to the issuer does not even need the issuer to exist.
    if destination_id != issuer:
        if state.account(destination_id) is None:
            return "op_no_destination"
        line = state.trustline(destination_id, code, issuer)
        if line is None:
            return "op_no_trust"
        if line.balance > line.limit - amount:
            return "op_line_full"
        line.balance += amount
        state.put_trustline(line)
    if source_id != issuer:
        line = state.trustline(source_id, code, issuer)
        if line is None:
            return "op_src_no_trust"
        if line.balance < amount:
            return "op_underfunded"
        line.balance -= amount
        state.put_trustline(line)
    return SUCCESS


def _change_trust(ctx: OperationContext, op: ChangeTrust, owner_id: str) -> str:
    state = ctx.state
    code, issuer = op.asset.code, op.asset.issuer
    limit = op.to_xdr_object().body.change_trust_op.limit.int64
    line = state.trustline(owner_id, code, issuer)
    if line is not None:
        if limit < line.balance:
            return "op_invalid_limit"
        if limit > 0:
            if state.account(issuer) is None:
                return "op_no_issuer"
            line.limit = limit
            state.put_trustline(line)
            return SUCCESS
        _remove_trustline(state, line)
        return SUCCESS
    if limit == 0:
        return "op_invalid_limit"
    if state.account(issuer) is None:
        return "op_no_issuer"
    sponsor_id = _sponsor_reserves(ctx, owner_id, 1)
    if sponsor_id is None:
        return "op_low_reserve"
    owner = state.account(owner_id)
    if sponsor_id:
        owner.num_sponsored += 1
    elif state.available(owner) < state.base_reserve:
        return "op_low_reserve"
    owner.num_subentries += 1
    state.put_account(owner)
    state.put_trustline(Trustline(owner_id, code, issuer, 0, limit, sponsor_id or None))
    return SUCCESS


def _remove_trustline(state: LedgerState, line: Trustline) -> None:
    """Delete an empty trustline and give its reserve back to whoever carried it."""
    owner = state.account(line.account_id)
    owner.num_subentries -= 1
    if line.sponsor:
        sponsor = state.account(line.sponsor)
        sponsor.num_sponsoring -= 1
        state.put_account(sponsor)
        owner.num_sponsored -= 1
    state.put_account(owner)
    state.delete_trustline(line)


def _begin_sponsoring(ctx: OperationContext, sponsored_id: str, sponsor_id: str) -> str:
    if sponsored_id in ctx.sponsoring:
        return "op_already_sponsored"
    # No chains: a sponsor may not itself be sponsored, nor a sponsored account a sponsor.
    if sponsor_id in ctx.sponsoring or sponsored_id in ctx.sponsoring.values():
        return "op_recursive"
    ctx.sponsoring[sponsored_id] = sponsor_id
    return SUCCESS


def _end_sponsoring(ctx: OperationContext, sponsored_id: str) -> str:
    if ctx.sponsoring.pop(sponsored_id, None) is None:
        return "op_not_sponsored"
    return SUCCESS
