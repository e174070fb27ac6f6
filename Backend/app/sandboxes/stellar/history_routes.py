"""The local network's operations and effects, as Horizon lists them: for the network,
one account, one transaction or one operation (paged, or streamed: listings.py)."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.sandboxes.stellar import history_resources, problems
from app.sandboxes.stellar.amounts import INT64_MAX
from app.sandboxes.stellar.listings import Fetch, bad_account, serve
from app.sandboxes.stellar.replies import base_url, hal, problem

router = APIRouter()
_HASH = re.compile(r"^[0-9a-f]{64}$")


def _operations(request: Request, account_id: str | None) -> Fetch:
    state, base = request.app.state, base_url(request)

    def fetch(start: int, order: str, size: int) -> list[dict]:
        found = state.history.operations(start, order, size, account=account_id)
        return [history_resources.operation(base, row, op) for row, op in found]

    return fetch


@router.get("/operations", summary="Every operation on the network, paged or streamed")
def operations(
    request: Request, cursor: str | None = None, order: str | None = None, limit: str | None = None
) -> Response:
    fetch = _operations(request, None)
    href = f"{base_url(request)}/operations"
    return serve(request, href, fetch, cursor=cursor, order=order, limit=limit)


@router.get("/accounts/{account_id}/operations", summary="An account's operations")
def account_operations(
    request: Request,
    account_id: str,
    cursor: str | None = None,
    order: str | None = None,
    limit: str | None = None,
) -> Response:
    if (bad := bad_account(account_id)) is not None:
        return bad
    fetch = _operations(request, account_id)
    href = f"{base_url(request)}/accounts/{account_id}/operations"
    return serve(request, href, fetch, cursor=cursor, order=order, limit=limit)


def _effects(request: Request, account_id: str | None) -> Fetch:
    state, base = request.app.state, base_url(request)

    def fetch(start: tuple[int, int], order: str, size: int) -> list[dict]:
        return state.history.effects(base, start, order, size, account=account_id)

    return fetch


@router.get("/effects", summary="Every effect on the network, paged or streamed")
def effects(
    request: Request, cursor: str | None = None, order: str | None = None, limit: str | None = None
) -> Response:
    fetch = _effects(request, None)
    href = f"{base_url(request)}/effects"
    return serve(request, href, fetch, cursor=cursor, order=order, limit=limit, effects=True)


@router.get("/accounts/{account_id}/effects", summary="An account's effects")
def account_effects(
    request: Request,
    account_id: str,
    cursor: str | None = None,
    order: str | None = None,
    limit: str | None = None,
) -> Response:
    if (bad := bad_account(account_id)) is not None:
        return bad
    fetch = _effects(request, account_id)
    href = f"{base_url(request)}/accounts/{account_id}/effects"
    return serve(request, href, fetch, cursor=cursor, order=order, limit=limit, effects=True)


# ---- one transaction's operations, one operation and its effects ----------------------


def _one_transaction(request: Request, tx_hash: str) -> dict | Response:
    tx_hash = tx_hash.lower()
    if not _HASH.match(tx_hash):
        return problem(problems.bad_request("tx_id", "a transaction hash is 64 hex digits"))
    row = request.app.state.reader.transaction(tx_hash)
    return problem(problems.not_found()) if row is None else row


@router.get("/transactions/{tx_hash}/operations", summary="A transaction's operations")
def transaction_operations(request: Request, tx_hash: str) -> Response:
    row = _one_transaction(request, tx_hash)
    if isinstance(row, Response):
        return row
    state, base = request.app.state, base_url(request)
    ops = state.history.operations_of(row)
    records = [history_resources.operation(base, row, op) for op in ops]
    return hal(_whole(f"{base}/transactions/{row['hash']}/operations", records))


def _one_operation(request: Request, op_id: str):
    if not op_id.isdigit() or int(op_id) > INT64_MAX:
        return problem(problems.bad_request("id", "an operation id is a number"))
    found = request.app.state.history.operation(int(op_id))
    return problem(problems.not_found()) if found is None else found


@router.get("/operations/{op_id}", summary="One operation")
def operation(request: Request, op_id: str) -> Response:
    found = _one_operation(request, op_id)
    if isinstance(found, Response):
        return found
    return hal(history_resources.operation(base_url(request), *found))


@router.get("/operations/{op_id}/effects", summary="One operation's effects")
def operation_effects(request: Request, op_id: str) -> Response:
    found = _one_operation(request, op_id)
    if isinstance(found, Response):
        return found
    state, base = request.app.state, base_url(request)
    records = history_resources.effects(base, *found, state.history.had_line)
    return hal(_whole(f"{base}/operations/{op_id}/effects", records))


def _whole(href: str, records: list[dict]) -> dict:
    """A listing that fits in one page (at most 100 operations, a few effects each)."""
    return {
        "_links": {"self": {"href": href}, "next": {"href": href}, "prev": {"href": href}},
        "_embedded": {"records": records},
    }
