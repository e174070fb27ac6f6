"""The HTTP face of PayTrace's local Stellar network: Horizon's routes and answers.

PayTrace's unchanged stellar-sdk code (`Server(horizon_url)`, `submit_transaction`,
`load_account`, `fetch_base_fee`, call builders) talks to it over real HTTP. A
development tool only: it is never part of PayTrace's API and never runs in production.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from urllib.parse import parse_qsl

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from stellar_sdk import StrKey

from app.sandboxes.stellar import problems, resources
from app.sandboxes.stellar.checks import MalformedEnvelope
from app.sandboxes.stellar.network import DEFAULT_PASSPHRASE, LocalNetwork, Submitted
from app.sandboxes.stellar.queries import BadQuery, Reader, page_params

log = logging.getLogger("paytrace.sandbox.stellar")

router = APIRouter()
_HASH = re.compile(r"^[0-9a-f]{64}$")
# Horizon gives up on a synchronous submission after 30 s with a 504.
SUBMIT_TIMEOUT_S = 30.0


class LedgerCloser:
    """Closes the open ledger every `interval_s` and wakes the submitters waiting for it."""

    def __init__(self, network: LocalNetwork, interval_s: float) -> None:
        self.network = network
        self.interval_s = interval_s
        self._closed = asyncio.Condition()

    async def run(self) -> None:
        """Close ledgers until cancelled."""
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            due += self.interval_s
            await asyncio.sleep(max(0.0, due - loop.time()))
            due = max(due, loop.time() - self.interval_s)  # fallen behind: no burst of closes
            try:
                await asyncio.to_thread(self.network.close_ledger)
            except Exception:
                log.exception("closing a ledger failed; trying again next interval")
                continue
            async with self._closed:
                self._closed.notify_all()

    async def wait_closed(self, sequence: int, timeout_s: float) -> bool:
        """True once ledger `sequence` has closed; False after timeout_s."""
        async with self._closed:
            try:
                await asyncio.wait_for(
                    self._closed.wait_for(lambda: self.network.last_closed >= sequence), timeout_s
                )
            except TimeoutError:
                return False
        return True


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _hal(body: dict, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=resources.HAL_JSON)


def _problem(body: dict) -> JSONResponse:
    return JSONResponse(body, status_code=body["status"], media_type=problems.PROBLEM_JSON)


async def _answer(request: Request, submitted: Submitted) -> JSONResponse:
    """Horizon's answer to a submission: at once if refused, else once its ledger closed."""
    state = request.app.state
    if submitted.rejection is not None:
        outcome = submitted.rejection
        failed = problems.transaction_failed(
            submitted.envelope_xdr, outcome.result_xdr(), outcome.result_codes()
        )
        return _problem(failed)
    timeout_s = max(SUBMIT_TIMEOUT_S, 10 * state.closer.interval_s)
    if not await state.closer.wait_closed(submitted.ledger, timeout_s):
        return _problem(problems.timeout())
    row = await asyncio.to_thread(state.reader.transaction, submitted.hash)
    if row is None:  # closed yet not found: only if the database was changed under us
        return _problem(problems.timeout())
    if not row["successful"]:
        codes = json.loads(row["result_codes"])
        failed = problems.transaction_failed(submitted.envelope_xdr, row["result_xdr"], codes)
        return _problem(failed)
    network = state.network
    return _hal(resources.transaction(_base(request), row, network.passphrase, submitted.hash))


@router.post("/transactions", summary="Submit a transaction (synchronous, as Horizon)")
async def submit_transaction(request: Request) -> JSONResponse:
    """Validate and apply a base64 envelope (form field `tx`); answered when its ledger closes."""
    try:
        form = dict(parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True))
    except (UnicodeDecodeError, ValueError):
        form = {}
    envelope_xdr = form.get("tx", "")
    try:
        submitted = await asyncio.to_thread(request.app.state.network.submit, envelope_xdr)
    except MalformedEnvelope:
        return _problem(problems.transaction_malformed(envelope_xdr))
    return await _answer(request, submitted)


@router.get("/friendbot", summary="Create and fund an account with 10,000 XLM")
async def friendbot(request: Request, addr: str = "") -> JSONResponse:
    """Create `addr` from the network's root account, as testnet's friendbot does."""
    if not StrKey.is_valid_ed25519_public_key(addr):
        return _problem(problems.bad_request("addr", "addr must be a G... account id"))
    submitted = await asyncio.to_thread(request.app.state.network.fund, addr)
    return await _answer(request, submitted)


@router.get("/", summary="The network (development tool)")
def root(request: Request) -> JSONResponse:
    latest = request.app.state.reader.latest_ledger()
    return _hal(resources.root(_base(request), latest, request.app.state.network.passphrase))


@router.get("/accounts/{account_id}", summary="An account, as of the last closed ledger")
def account(request: Request, account_id: str) -> JSONResponse:
    if not StrKey.is_valid_ed25519_public_key(account_id):
        return _problem(problems.bad_request("account_id", "not a G... account id"))
    found = request.app.state.reader.account(account_id)
    if found is None:
        return _problem(problems.not_found())
    return _hal(resources.account(_base(request), *found))


@router.get("/accounts/{account_id}/payments", summary="An account's payments, paged")
def account_payments(
    request: Request,
    account_id: str,
    cursor: str | None = None,
    order: str | None = None,
    limit: str | None = None,
    join: str | None = None,
) -> JSONResponse:
    if not StrKey.is_valid_ed25519_public_key(account_id):
        return _problem(problems.bad_request("account_id", "not a G... account id"))
    try:
        start, order, size = page_params(cursor, order, limit)
        joined = _joined(join)
    except BadQuery as exc:
        return _problem(problems.bad_request(exc.field, exc.reason))
    rows = request.app.state.reader.account_payments(account_id, start, order, size)
    records = _payments(request, rows, joined)
    href = f"{_base(request)}/accounts/{account_id}/payments"
    return _hal(_page(href, records, cursor or "", order, size))


@router.get("/payments", summary="Every payment on the network, paged")
def payments(
    request: Request,
    cursor: str | None = None,
    order: str | None = None,
    limit: str | None = None,
    join: str | None = None,
) -> JSONResponse:
    try:
        start, order, size = page_params(cursor, order, limit)
        joined = _joined(join)
    except BadQuery as exc:
        return _problem(problems.bad_request(exc.field, exc.reason))
    rows = request.app.state.reader.payments(start, order, size)
    records = _payments(request, rows, joined)
    return _hal(_page(f"{_base(request)}/payments", records, cursor or "", order, size))


def _joined(join: str | None) -> bool:
    """Horizon's `join=transactions`: each payment carries its transaction (its memo)."""
    if join not in (None, "transactions"):
        raise BadQuery("join", "only `transactions` can be joined")
    return join is not None


def _payments(request: Request, rows: list[dict], joined: bool) -> list[dict]:
    base, reader = _base(request), request.app.state.reader
    records = [resources.payment(base, row) for row in rows]
    if joined:
        passphrase = request.app.state.network.passphrase
        for record in records:
            tx_hash = record["transaction_hash"]
            row = reader.transaction(tx_hash)
            assert row is not None  # a payment's transaction is in the same ledger
            record["transaction"] = resources.transaction(base, row, passphrase, tx_hash)
    return records


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


@router.get("/transactions/{tx_hash}", summary="A transaction by hash (or inner hash)")
def transaction(request: Request, tx_hash: str) -> JSONResponse:
    tx_hash = tx_hash.lower()
    if not _HASH.match(tx_hash):
        return _problem(problems.bad_request("tx_id", "a transaction hash is 64 hex digits"))
    row = request.app.state.reader.transaction(tx_hash)
    if row is None:
        return _problem(problems.not_found())
    passphrase = request.app.state.network.passphrase
    return _hal(resources.transaction(_base(request), row, passphrase, tx_hash))


@router.get("/ledgers", summary="Closed ledgers, paged")
def ledgers(
    request: Request, cursor: str | None = None, order: str | None = None, limit: str | None = None
) -> JSONResponse:
    try:
        start, order, size = page_params(cursor, order, limit)
    except BadQuery as exc:
        return _problem(problems.bad_request(exc.field, exc.reason))
    network, base = request.app.state.network, _base(request)
    rows = request.app.state.reader.ledgers(start, order, size)
    records = [resources.ledger(base, row, network.base_fee, network.base_reserve) for row in rows]
    return _hal(_page(f"{base}/ledgers", records, cursor or "", order, size))


@router.get("/ledgers/{sequence}", summary="One closed ledger")
def ledger(request: Request, sequence: str) -> JSONResponse:
    if not sequence.isdigit() or int(sequence) >= 2**32:
        return _problem(problems.bad_request("sequence", "a ledger sequence is a uint32"))
    row = request.app.state.reader.ledger(int(sequence))
    if row is None:
        return _problem(problems.not_found())
    network = request.app.state.network
    return _hal(resources.ledger(_base(request), row, network.base_fee, network.base_reserve))


@router.get("/fee_stats", summary="Fee statistics (always the base fee here)")
def fee_stats(request: Request) -> JSONResponse:
    latest = request.app.state.reader.latest_ledger()
    return _hal(resources.fee_stats(latest, request.app.state.network.base_fee))


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    if exc.status_code == 404:
        return _problem(problems.not_found())
    title = "Method Not Allowed" if exc.status_code == 405 else "Bad Request"
    kind = "method_not_allowed" if exc.status_code == 405 else "bad_request"
    return _problem(problems.problem(kind, title, exc.status_code, str(exc.detail)))


async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    return _problem(problems.bad_request("request", "the request's parameters are invalid"))


async def _server_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected error", exc_info=exc)
    detail = "An error occurred while processing this request (see the network's log)."
    return _problem(problems.problem("server_error", "Internal Server Error", 500, detail))


def create_app(
    data_dir: Path | str,
    *,
    passphrase: str = DEFAULT_PASSPHRASE,
    close_interval_s: float = 1.0,
) -> FastAPI:
    """PayTrace's local Horizon-compatible Stellar network over `data_dir` (a development
    tool). The database opens when the app starts serving and closes, after a final
    ledger close, when it stops."""
    if close_interval_s <= 0:
        raise ValueError("close_interval_s must be positive")

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        network = LocalNetwork(Path(data_dir), passphrase=passphrase)
        app.state.network = network
        app.state.reader = Reader(network.db_path)
        app.state.closer = LedgerCloser(network, close_interval_s)
        closing = asyncio.create_task(app.state.closer.run())
        try:
            yield
        finally:
            closing.cancel()
            with suppress(asyncio.CancelledError):
                await closing
            network.shutdown()

    app = FastAPI(
        title="PayTrace local Stellar network (development tool)",
        description=resources.DEV_TOOL,
        lifespan=lifespan,
    )
    app.include_router(router)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(Exception, _server_error)
    return app
