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
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from stellar_sdk import StrKey

from app.sandboxes.stellar import history_routes, listings, problems, resources
from app.sandboxes.stellar.checks import MalformedEnvelope
from app.sandboxes.stellar.history_queries import History
from app.sandboxes.stellar.network import DEFAULT_PASSPHRASE, LocalNetwork, Submitted
from app.sandboxes.stellar.queries import Reader
from app.sandboxes.stellar.replies import base_url, hal, problem

log = logging.getLogger("paytrace.sandbox.stellar")

router = APIRouter()
_HASH = re.compile(r"^[0-9a-f]{64}$")
# Horizon gives up on a synchronous submission after 30 s with a 504.
SUBMIT_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class StreamSettings:
    """How long one event stream lasts before its byebye, and how often a quiet one
    says hello (streams.py)."""

    max_s: float
    keepalive_s: float


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


async def _answer(request: Request, submitted: Submitted) -> JSONResponse:
    """Horizon's answer to a submission: at once if refused, else once its ledger closed."""
    state = request.app.state
    if submitted.rejection is not None:
        outcome = submitted.rejection
        failed = problems.transaction_failed(
            submitted.envelope_xdr, outcome.result_xdr(), outcome.result_codes()
        )
        return problem(failed)
    timeout_s = max(SUBMIT_TIMEOUT_S, 10 * state.closer.interval_s)
    if not await state.closer.wait_closed(submitted.ledger, timeout_s):
        return problem(problems.timeout())
    row = await asyncio.to_thread(state.reader.transaction, submitted.hash)
    if row is None:  # closed yet not found: only if the database was changed under us
        return problem(problems.timeout())
    if not row["successful"]:
        codes = json.loads(row["result_codes"])
        failed = problems.transaction_failed(submitted.envelope_xdr, row["result_xdr"], codes)
        return problem(failed)
    network = state.network
    return hal(resources.transaction(base_url(request), row, network.passphrase, submitted.hash))


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
        return problem(problems.transaction_malformed(envelope_xdr))
    return await _answer(request, submitted)


@router.get("/friendbot", summary="Create and fund an account with 10,000 XLM")
async def friendbot(request: Request, addr: str = "") -> JSONResponse:
    """Create `addr` from the network's root account, as testnet's friendbot does."""
    if not StrKey.is_valid_ed25519_public_key(addr):
        return problem(problems.bad_request("addr", "addr must be a G... account id"))
    submitted = await asyncio.to_thread(request.app.state.network.fund, addr)
    return await _answer(request, submitted)


@router.get("/", summary="The network (development tool)")
def root(request: Request) -> JSONResponse:
    latest = request.app.state.reader.latest_ledger()
    return hal(resources.root(base_url(request), latest, request.app.state.network.passphrase))


@router.get("/accounts/{account_id}", summary="An account, as of the last closed ledger")
def account(request: Request, account_id: str) -> JSONResponse:
    if not StrKey.is_valid_ed25519_public_key(account_id):
        return problem(problems.bad_request("account_id", "not a G... account id"))
    found = request.app.state.reader.account(account_id)
    if found is None:
        return problem(problems.not_found())
    return hal(resources.account(base_url(request), *found))


@router.get("/transactions/{tx_hash}", summary="A transaction by hash (or inner hash)")
def transaction(request: Request, tx_hash: str) -> JSONResponse:
    tx_hash = tx_hash.lower()
    if not _HASH.match(tx_hash):
        return problem(problems.bad_request("tx_id", "a transaction hash is 64 hex digits"))
    row = request.app.state.reader.transaction(tx_hash)
    if row is None:
        return problem(problems.not_found())
    passphrase = request.app.state.network.passphrase
    return hal(resources.transaction(base_url(request), row, passphrase, tx_hash))


@router.get("/ledgers/{sequence}", summary="One closed ledger")
def ledger(request: Request, sequence: str) -> JSONResponse:
    if not sequence.isdigit() or int(sequence) >= 2**32:
        return problem(problems.bad_request("sequence", "a ledger sequence is a uint32"))
    row = request.app.state.reader.ledger(int(sequence))
    if row is None:
        return problem(problems.not_found())
    network = request.app.state.network
    return hal(resources.ledger(base_url(request), row, network.base_fee, network.base_reserve))


@router.get("/fee_stats", summary="Fee statistics (always the base fee here)")
def fee_stats(request: Request) -> JSONResponse:
    latest = request.app.state.reader.latest_ledger()
    return hal(resources.fee_stats(latest, request.app.state.network.base_fee))


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    if exc.status_code == 404:
        return problem(problems.not_found())
    title = "Method Not Allowed" if exc.status_code == 405 else "Bad Request"
    kind = "method_not_allowed" if exc.status_code == 405 else "bad_request"
    return problem(problems.problem(kind, title, exc.status_code, str(exc.detail)))


async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    return problem(problems.bad_request("request", "the request's parameters are invalid"))


async def _server_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected error", exc_info=exc)
    detail = "An error occurred while processing this request (see the network's log)."
    return problem(problems.problem("server_error", "Internal Server Error", 500, detail))


def create_app(
    data_dir: Path | str,
    *,
    passphrase: str = DEFAULT_PASSPHRASE,
    close_interval_s: float = 1.0,
    stream_max_s: float = 60.0,
    keepalive_s: float = 5.0,
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
        app.state.history = History(app.state.reader, network.passphrase)
        app.state.streams = StreamSettings(max_s=stream_max_s, keepalive_s=keepalive_s)
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
    app.include_router(listings.router)
    app.include_router(history_routes.router)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(Exception, _server_error)
    return app
