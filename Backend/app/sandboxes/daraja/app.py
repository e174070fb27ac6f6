"""The HTTP face of PayTrace's local Daraja sandbox: Daraja's routes and answers.

PayTrace's M-Pesa adapter talks to it over real HTTP exactly as it talks to
Safaricom's Daraja (only the base URL differs). A development tool only: it is never
part of PayTrace's API and never runs in production.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import logging
import time
from contextlib import asynccontextmanager, suppress
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from app.sandboxes.daraja import (
    b2b,
    c2b,
    control,
    errors,
    identifiers,
    payloads,
    processing,
    reversals,
    statement,
    validation,
)
from app.sandboxes.daraja.callbacks import CallbackSender
from app.sandboxes.daraja.config import SandboxConfig
from app.sandboxes.daraja.errors import DarajaError
from app.sandboxes.daraja.faults import Fault, Faults
from app.sandboxes.daraja.store import Store

log = logging.getLogger("paytrace.sandbox.daraja")

router = APIRouter(tags=["Daraja (sandbox)"])
DEV_TOOL = (
    "PayTrace's local Daraja-compatible M-Pesa sandbox: a development tool. "
    "No money moves; nothing here is M-Pesa."
)


def _config(request: Request) -> SandboxConfig:
    return request.app.state.config


def _store(request: Request) -> Store:
    return request.app.state.store


def _basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    key, colon, secret = decoded.partition(":")
    return (key, secret) if colon else None


@router.get("/oauth/v1/generate", summary="An access token (client credentials, Basic auth)")
def generate_token(request: Request, grant_type: str | None = None) -> dict:
    """`{"access_token", "expires_in"}` for the app's consumer key and secret."""
    if grant_type != "client_credentials":
        raise errors.invalid_grant_type()
    config = _config(request)
    credentials = _basic_credentials(request.headers.get("authorization", ""))
    if credentials is None:
        raise errors.invalid_authentication()
    key, secret = credentials
    key_ok = hmac.compare_digest(key.encode(), config.consumer_key.encode())
    secret_ok = hmac.compare_digest(secret.encode(), config.consumer_secret.encode())
    if not (key_ok and secret_ok):
        raise errors.invalid_authentication()
    token = identifiers.access_token()
    _store(request).issue_token(token, time.time() + config.token_ttl_s)
    # Daraja gives expires_in as a string.
    return {"access_token": token, "expires_in": str(config.token_ttl_s)}


def _authorize(request: Request) -> None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise errors.invalid_auth_header()
    if not _store(request).token_valid(token.strip(), time.time()):
        raise errors.invalid_access_token()


async def _body(request: Request) -> dict:
    _authorize(request)
    return validation.parse_json(await request.body())


def _fault(request: Request, api: str) -> Fault | None:
    faults: Faults = request.app.state.faults
    return faults.take(api)


async def _answer(fault: Fault | None, perform):
    """perform()'s answer, or the fault's instead: an error body, or an answer held
    past the caller's timeout; `after_send` performs the request first."""
    if fault is None:
        return perform()
    if fault.after_send:
        perform()
    if fault.fault == "timeout":
        await asyncio.sleep(fault.delay_s)
    raise fault.error()


@router.post("/mpesa/stkpush/v1/processrequest", summary="M-Pesa Express (STK push)")
async def stk_push(request: Request) -> dict:
    """Prompt the customer's phone; the result is POSTed to CallBackURL."""
    push = validation.stk_push(await _body(request), _config(request))
    metadata = _fault(request, "stk_callback") is None

    def perform() -> dict:
        store, config = _store(request), _config(request)
        record = processing.accept_stk_push(store, config, push, time.time(), metadata=metadata)
        return payloads.stk_accepted(record)

    return await _answer(_fault(request, "stk_push"), perform)


@router.post("/mpesa/stkpushquery/v1/query", summary="M-Pesa Express query")
async def stk_query(request: Request) -> dict:
    """The STK push's result once the customer has answered (or the prompt timed out)."""
    checkout_request_id = validation.stk_query(await _body(request), _config(request))
    return await _answer(
        _fault(request, "stk_query"),
        lambda: processing.answer_stk_query(_store(request), checkout_request_id, time.time()),
    )


async def _b2c(request: Request, version: int) -> dict:
    payment = validation.b2c_payment(await _body(request), _config(request), version=version)

    def perform() -> dict:
        record = processing.accept_b2c(_store(request), _config(request), payment, time.time())
        return payloads.request_accepted(record.conversation_id, record.originator_conversation_id)

    return await _answer(_fault(request, "b2c"), perform)


@router.post("/mpesa/b2c/v3/paymentrequest", summary="B2C payment (v3)")
async def b2c_v3(request: Request) -> dict:
    """Pay a customer; the result is POSTed to ResultURL (or QueueTimeOutURL)."""
    return await _b2c(request, 3)


@router.post("/mpesa/b2c/v1/paymentrequest", summary="B2C payment (v1)")
async def b2c_v1(request: Request) -> dict:
    """As v3, without a caller-chosen OriginatorConversationID."""
    return await _b2c(request, 1)


@router.post("/mpesa/b2b/v1/paymentrequest", summary="B2B: Business Pay Bill")
async def b2b_payment(request: Request) -> dict:
    """Pay a biller's paybill with the customer's account as AccountReference; the
    result is POSTed to ResultURL (or QueueTimeOutURL)."""
    req = b2b.request(await _body(request), _config(request))
    return await _answer(
        _fault(request, "b2b"),
        lambda: b2b.accept(_store(request), _config(request), req, time.time()),
    )


@router.post("/mpesa/b2b/v1/accountlookup", summary="B2B: the biller's account holder")
async def b2b_lookup(request: Request) -> dict:
    """The sandbox's own (Daraja documents no such call): the account holder's name as
    M-Pesa shows it before a Pay Bill."""
    return b2b.lookup(await _body(request))


@router.post("/mpesa/transactionstatus/v1/query", summary="Transaction status")
async def transaction_status(request: Request) -> dict:
    """Ask about a transaction by receipt or OriginatorConversationID; the answer is
    POSTed to ResultURL."""
    query = validation.status_query(await _body(request), _config(request))
    store, config = _store(request), _config(request)
    return await _answer(
        _fault(request, "status_query"),
        lambda: processing.accept_status_query(store, config, query, time.time()),
    )


@router.post("/mpesa/c2b/v1/registerurl", summary="C2B: register the paybill's URLs")
async def c2b_register(request: Request) -> dict:
    """Where the shortcode's payments are validated and confirmed, and what happens
    when validation does not answer (ResponseType Completed or Cancelled)."""
    urls = c2b.registration(await _body(request), _config(request))
    _store(request).register_c2b(urls)
    return c2b.answer(c2b.REGISTERED)


@router.post("/mpesa/c2b/v1/simulate", summary="C2B: a customer pays the paybill")
async def c2b_simulate(request: Request) -> dict:
    """A customer pays the shortcode from M-Pesa with an account number: validated at
    the ValidationURL, then (if completed) confirmed at the ConfirmationURL."""
    simulation = c2b.simulation(await _body(request), _config(request))
    record, urls = c2b.accept(_store(request), simulation, time.time())
    request.app.state.validator.start(record, urls)
    return c2b.answer(c2b.ACCEPTED)


@router.post("/mpesa/reversal/v1/request", summary="Transaction reversal")
async def reversal(request: Request) -> dict:
    """Give back a payment made into the paybill; the result is POSTed to ResultURL."""
    req = reversals.request(await _body(request), _config(request))
    return reversals.accept(_store(request), _config(request), req, time.time())


def _error(error: DarajaError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status)


async def _daraja_error(request: Request, exc: DarajaError) -> JSONResponse:
    return _error(exc)


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    if exc.status_code == 405:
        return _error(errors.method_not_allowed())
    if exc.status_code == 404:
        return _error(errors.not_found())
    return _error(DarajaError(exc.status_code, f"{exc.status_code}.001.01", str(exc.detail)))


async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    return _error(errors.invalid("Request"))


async def _server_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected error", exc_info=exc)
    return _error(DarajaError(500, "500.003.02", "System is busy, please try again later"))


def create_app(data_dir: Path | str, config: SandboxConfig | None = None) -> FastAPI:
    """PayTrace's local Daraja sandbox over `data_dir` (a development tool). The store
    opens and the callback sender starts when the app starts serving."""
    config = config or SandboxConfig()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.config = config
        app.state.store = Store(Path(data_dir))
        app.state.faults = Faults()
        app.state.validator = c2b.Validator(app.state.store, config)
        sending = asyncio.create_task(CallbackSender(app.state.store).run())
        try:
            yield
        finally:
            await app.state.validator.close()
            sending.cancel()
            with suppress(asyncio.CancelledError):
                await sending
            app.state.store.close()

    app = FastAPI(
        title="PayTrace local Daraja sandbox (development tool)",
        description=DEV_TOOL,
        lifespan=lifespan,
    )
    app.include_router(router)
    app.include_router(control.router)
    app.include_router(statement.router)
    app.add_exception_handler(DarajaError, _daraja_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(Exception, _server_error)
    return app
