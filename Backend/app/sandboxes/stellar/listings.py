"""The local network's listings, paged as JSON or streamed as server-sent events:
ledgers, payments, transactions, operations and effects, for the network or one
account, in Horizon's routes, parameters and record shapes.

Each listing is a `fetch(start, order, limit)` over closed ledgers and the cursor
parser of its paging tokens; `serve` answers a page (HAL, with next/prev links) or,
asked with `Accept: text/event-stream`, a stream (streams.py) from the cursor or the
`Last-Event-ID` header, ascending.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from stellar_sdk import StrKey

from app.sandboxes.stellar import problems, resources, streams
from app.sandboxes.stellar.queries import BadQuery, effect_cursor, id_cursor, order_and_limit
from app.sandboxes.stellar.replies import base_url, hal, problem

router = APIRouter()
Fetch = Callable[[Any, str, int], list[dict]]


def serve(
    request: Request,
    href: str,
    fetch: Fetch,
    *,
    cursor: str | None,
    order: str | None,
    limit: str | None,
    effects: bool = False,
) -> Response:
    stream = streams.wants_stream(request)
    if stream:
        cursor = request.headers.get("last-event-id") or cursor
    parse_cursor = effect_cursor if effects else id_cursor
    latest = request.app.state.network.last_closed
    try:
        order, size = order_and_limit(order, limit)
        if stream and order == "desc":
            raise BadQuery("order", "a stream is in ascending order")
        start = parse_cursor(cursor, order, latest)
    except BadQuery as exc:
        return problem(problems.bad_request(exc.field, exc.reason))
    if stream:
        return streams.response(
            request,
            lambda key, n: fetch(key, "asc", n),
            lambda token: parse_cursor(token, "asc", latest),
            start,
            size,
        )
    records = fetch(start, order, size)
    return hal(_page(href, records, cursor or "", order, size))


def _page(href: str, records: list[dict], cursor: str, order: str, size: int) -> dict:
    first = records[0]["paging_token"] if records else cursor
    last = records[-1]["paging_token"] if records else cursor
    reverse = "desc" if order == "asc" else "asc"
    return resources.page(
        f"{href}?cursor={cursor}&limit={size}&order={order}",
        f"{href}?cursor={last}&limit={size}&order={order}",
        f"{href}?cursor={first}&limit={size}&order={reverse}",
        records,
    )


def bad_account(account_id: str) -> Response | None:
    if StrKey.is_valid_ed25519_public_key(account_id):
        return None
    return problem(problems.bad_request("account_id", "not a G... account id"))


def _joined(join: str | None) -> bool:
    """Horizon's `join=transactions`: each payment carries its transaction (its memo)."""
    if join not in (None, "transactions"):
        raise BadQuery("join", "only `transactions` can be joined")
    return join is not None


def _flag(value: str | None, field: str) -> bool:
    if value not in (None, "", "true", "false"):
        raise BadQuery(field, f"{field} must be true or false")
    return value == "true"


# ---- ledgers ---------------------------------------------------------------------------


@router.get("/ledgers", summary="Closed ledgers, paged or streamed")
def ledgers(
    request: Request, cursor: str | None = None, order: str | None = None, limit: str | None = None
) -> Response:
    state, base = request.app.state, base_url(request)
    network = state.network

    def fetch(start: int, order: str, size: int) -> list[dict]:
        rows = state.reader.ledgers(start, order, size)
        return [resources.ledger(base, r, network.base_fee, network.base_reserve) for r in rows]

    return serve(request, f"{base}/ledgers", fetch, cursor=cursor, order=order, limit=limit)


# ---- payments --------------------------------------------------------------------------


def _payments(request: Request, account_id: str | None, join: str | None) -> Fetch:
    state, base = request.app.state, base_url(request)
    joined = _joined(join)

    def fetch(start: int, order: str, size: int) -> list[dict]:
        if account_id is None:
            rows = state.reader.payments(start, order, size)
        else:
            rows = state.reader.account_payments(account_id, start, order, size)
        records = [resources.payment(base, row) for row in rows]
        if joined:
            passphrase = state.network.passphrase
            for record in records:
                tx_hash = record["transaction_hash"]
                row = state.reader.transaction(tx_hash)
                assert row is not None  # a payment's transaction is in the same ledger
                record["transaction"] = resources.transaction(base, row, passphrase, tx_hash)
        return records

    return fetch


@router.get("/payments", summary="Every payment on the network, paged or streamed")
def payments(
    request: Request,
    cursor: str | None = None,
    order: str | None = None,
    limit: str | None = None,
    join: str | None = None,
) -> Response:
    try:
        fetch = _payments(request, None, join)
    except BadQuery as exc:
        return problem(problems.bad_request(exc.field, exc.reason))
    href = f"{base_url(request)}/payments"
    return serve(request, href, fetch, cursor=cursor, order=order, limit=limit)


@router.get("/accounts/{account_id}/payments", summary="An account's payments")
def account_payments(
    request: Request,
    account_id: str,
    cursor: str | None = None,
    order: str | None = None,
    limit: str | None = None,
    join: str | None = None,
) -> Response:
    if (bad := bad_account(account_id)) is not None:
        return bad
    try:
        fetch = _payments(request, account_id, join)
    except BadQuery as exc:
        return problem(problems.bad_request(exc.field, exc.reason))
    href = f"{base_url(request)}/accounts/{account_id}/payments"
    return serve(request, href, fetch, cursor=cursor, order=order, limit=limit)


# ---- transactions ----------------------------------------------------------------------


def _transactions(request: Request, account_id: str | None, include_failed: str | None) -> Fetch:
    state, base = request.app.state, base_url(request)
    failed = _flag(include_failed, "include_failed")
    passphrase = state.network.passphrase

    def fetch(start: int, order: str, size: int) -> list[dict]:
        rows = state.history.transactions(
            start, order, size, account=account_id, include_failed=failed
        )
        return [resources.transaction(base, row, passphrase) for row in rows]

    return fetch


@router.get("/transactions", summary="Every transaction on the network, paged or streamed")
def transactions(
    request: Request,
    cursor: str | None = None,
    order: str | None = None,
    limit: str | None = None,
    include_failed: str | None = None,
) -> Response:
    try:
        fetch = _transactions(request, None, include_failed)
    except BadQuery as exc:
        return problem(problems.bad_request(exc.field, exc.reason))
    href = f"{base_url(request)}/transactions"
    return serve(request, href, fetch, cursor=cursor, order=order, limit=limit)


@router.get("/accounts/{account_id}/transactions", summary="An account's transactions")
def account_transactions(
    request: Request,
    account_id: str,
    cursor: str | None = None,
    order: str | None = None,
    limit: str | None = None,
    include_failed: str | None = None,
) -> Response:
    if (bad := bad_account(account_id)) is not None:
        return bad
    try:
        fetch = _transactions(request, account_id, include_failed)
    except BadQuery as exc:
        return problem(problems.bad_request(exc.field, exc.reason))
    href = f"{base_url(request)}/accounts/{account_id}/transactions"
    return serve(request, href, fetch, cursor=cursor, order=order, limit=limit)
