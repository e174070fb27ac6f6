"""C2B (customer to business) in the sandbox: a shortcode registers its validation and
confirmation URLs, and a simulated customer pays it with an account number.

As Daraja does it: the payment is first POSTed to the ValidationURL, whose answer
(`ResultCode` "0", or a rejection such as `C2B00012`) completes or rejects it; when
the validation URL does not answer in time, the registration's ResponseType decides
(`Completed` completes it, `Cancelled` cancels it). A completed payment is then POSTed
once to the ConfirmationURL (through the callback sender, never retried). Daraja
refuses URLs naming M-Pesa, Safaricom or a few shell and SQL words; so does this.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
import time
from contextlib import suppress
from dataclasses import dataclass

import httpx

from app.sandboxes.daraja import errors, identifiers
from app.sandboxes.daraja.config import SandboxConfig
from app.sandboxes.daraja.store import C2BRecord, C2BUrls, Delivery, Store
from app.sandboxes.daraja.validation import (
    _MSISDN,
    _SHORTCODE,
    _amount,
    _choice,
    _matching,
    _text,
    _url,
)

log = logging.getLogger("paytrace.sandbox.daraja")

RESPONSE_TYPES = ("Completed", "Cancelled")
C2B_COMMANDS = ("CustomerPayBillOnline", "CustomerBuyGoodsOnline")
TRANSACTION_TYPES = {"CustomerPayBillOnline": "Pay Bill", "CustomerBuyGoodsOnline": "Buy Goods"}
# Daraja's rule for registered URLs (its documentation lists these words).
_FORBIDDEN_IN_URL = re.compile(r"m-?pesa|safaricom|exe|cmd|sql|query", re.IGNORECASE)
REGISTERED = "Success"
ACCEPTED = "Accept the service request successfully."
FIRST_NAME = "Sandbox"
LAST_NAME = "Customer"


@dataclass(frozen=True)
class Simulation:
    shortcode: str
    command_id: str
    amount: int
    phone: str
    bill_ref: str


def _registered_url(body: dict, name: str) -> str:
    value = _url(body, name)
    if _FORBIDDEN_IN_URL.search(value):
        raise errors.invalid(name)
    return value


def registration(body: dict, config: SandboxConfig) -> C2BUrls:
    """A `registerurl` request for the sandbox's paybill; raises DarajaError."""
    shortcode = _matching(body, "ShortCode", _SHORTCODE)
    if shortcode != config.shortcode:
        raise errors.invalid("ShortCode")
    return C2BUrls(
        shortcode=shortcode,
        response_type=_choice(body, "ResponseType", RESPONSE_TYPES),
        confirmation_url=_registered_url(body, "ConfirmationURL"),
        validation_url=_registered_url(body, "ValidationURL"),
    )


def simulation(body: dict, config: SandboxConfig) -> Simulation:
    """A `simulate` request: a customer pays the shortcode; raises DarajaError."""
    shortcode = _matching(body, "ShortCode", _SHORTCODE)
    if shortcode != config.shortcode:
        raise errors.invalid("ShortCode")
    command_id = _choice(body, "CommandID", C2B_COMMANDS)
    return Simulation(
        shortcode=shortcode,
        command_id=command_id,
        amount=_amount(body),
        phone=_matching(body, "Msisdn", _MSISDN),
        bill_ref=_text(body, "BillRefNumber", 20, required=command_id == C2B_COMMANDS[0]),
    )


def answer(description: str) -> dict:
    """Daraja's synchronous C2B answer (its own spelling of OriginatorCoversationID)."""
    return {
        "OriginatorCoversationID": identifiers.request_id(),
        "ResponseCode": "0",
        "ResponseDescription": description,
    }


def payload(record: C2BRecord) -> dict:
    """The body POSTed to the validation and the confirmation URL."""
    return {
        "TransactionType": TRANSACTION_TYPES[record.command_id],
        "TransID": record.trans_id,
        "TransTime": identifiers.daraja_time(record.created_at),
        "TransAmount": f"{record.amount}.00",
        "BusinessShortCode": record.shortcode,
        "BillRefNumber": record.bill_ref,
        "InvoiceNumber": "",
        "OrgAccountBalance": "",
        "ThirdPartyTransID": "",
        "MSISDN": record.phone,
        "FirstName": FIRST_NAME,
        "MiddleName": "",
        "LastName": LAST_NAME,
    }


def accept(store: Store, simulation: Simulation, now: float) -> tuple[C2BRecord, C2BUrls]:
    """Record the customer's payment, to be validated; raises DarajaError when the
    shortcode has registered no URLs (nothing could be told of it)."""
    urls = store.c2b_urls(simulation.shortcode)
    if urls is None:
        raise errors.invalid("ShortCode - no URLs registered")
    for _ in range(5):  # a receipt can collide
        record = C2BRecord(
            trans_id=identifiers.receipt(now),
            command_id=simulation.command_id,
            shortcode=simulation.shortcode,
            phone=simulation.phone,
            amount=simulation.amount,
            bill_ref=simulation.bill_ref,
            status="validating",
            validation=None,
            created_at=now,
        )
        try:
            store.add_c2b(record)
        except sqlite3.IntegrityError:
            continue
        return record, urls
    raise RuntimeError("could not allocate a unique TransID")


class Validator:
    """Runs each payment's validation call, then completes or ends it (in the
    background: `simulate` answers at once, as Daraja's does)."""

    def __init__(self, store: Store, config: SandboxConfig) -> None:
        self._store = store
        self._config = config
        self._running: set[asyncio.Task] = set()
        self._http = httpx.AsyncClient(timeout=config.c2b_validation_timeout_s)

    def start(self, record: C2BRecord, urls: C2BUrls) -> None:
        task = asyncio.create_task(self._validate(record, urls))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def close(self) -> None:
        for task in list(self._running):
            task.cancel()
        with suppress(asyncio.CancelledError):
            await asyncio.gather(*self._running, return_exceptions=True)
        await self._http.aclose()

    async def _validate(self, record: C2BRecord, urls: C2BUrls) -> None:
        body = payload(record)
        verdict = await self._ask(urls.validation_url, body)
        if verdict is None:  # no usable answer: the registration's ResponseType decides
            completed = urls.response_type == "Completed"
            said = f"no answer: {urls.response_type}"
        else:
            completed = verdict == "0"
            said = verdict
        now = time.time()
        deliveries = (
            [Delivery("c2b_confirmation", record.trans_id, urls.confirmation_url, body, now)]
            if completed
            else []
        )
        status = "completed" if completed else ("rejected" if verdict else "cancelled")
        await asyncio.to_thread(
            self._store.settle_c2b, record.trans_id, status, said[:100], now, deliveries
        )

    async def _ask(self, url: str, body: dict) -> str | None:
        """The validation's ResultCode, or None when it gave none in time."""
        try:
            response = await self._http.post(url, json=body)
            code = response.json().get("ResultCode") if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError, AttributeError):
            log.warning("C2B validation not answered", extra={"trans_id": body["TransID"]})
            return None
        return str(code).strip() if isinstance(code, str | int) and str(code).strip() else None
