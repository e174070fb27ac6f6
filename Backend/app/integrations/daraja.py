"""Safaricom's Daraja API (M-Pesa), behind the `Daraja` port, over real HTTP (httpx).

There is no official Safaricom SDK for Python, and the community packages wrap a
handful of calls without caching the OAuth token or telling a refused request from
one whose fate is unknown; the API is small JSON over HTTPS, so PayTrace speaks it
directly. The same code talks to Daraja and to PayTrace's local Daraja sandbox: only
the base URL and the credentials differ.

Every failure is a `DarajaError` of one kind, because what is safe to do next
depends on it:

* *retryable* - the request provably did not take effect: the connection was never
  made, or Daraja answered 429/503;
* *permanent* - Daraja refused it (a 4xx, or an answer whose ResponseCode is not 0):
  it will never take effect as sent;
* *ambiguous* - it may have been accepted: a read timeout, a dropped connection, a
  5xx, an answer we cannot read. Neither an STK push (a second prompt) nor a B2C
  payment (a second payment, should M-Pesa's refusal of a repeated
  OriginatorConversationID ever fail) is sent again: PayTrace asks M-Pesa what
  became of it. A 503 counts as retryable for queries only; the B2C handler treats
  every 5xx as ambiguous.

Long (over 300 lines) because the port, its result types, the OAuth token cache and
the client that sorts every failure into one of the three kinds live together: the
kinds decide what is safe to do next, so they are read in one place.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

import httpx

from app.config import Settings
from app.domain.money import NAIROBI

# A token is renewed this long before Daraja says it expires.
TOKEN_MARGIN_S = 60.0
_BEING_PROCESSED = "being processed"
_DUPLICATE = "duplicate originatorconversationid"


class Failure(StrEnum):
    RETRYABLE = "retryable"
    PERMANENT = "permanent"
    AMBIGUOUS = "ambiguous"


class DarajaError(Exception):
    """A Daraja call that did not succeed; `kind` says what is safe to do next."""

    def __init__(
        self, kind: Failure, message: str, *, status: int | None = None, code: str | None = None
    ) -> None:
        super().__init__(f"{kind}: {message}" + (f" ({code})" if code else ""))
        self.kind = kind
        self.message = message
        self.status = status
        self.code = code

    @property
    def duplicate(self) -> bool:
        """A B2C refused because its OriginatorConversationID was used before: the
        earlier request reached M-Pesa."""
        return _DUPLICATE in self.message.lower()

    @property
    def being_processed(self) -> bool:
        """An STK query answered before the customer did."""
        return _BEING_PROCESSED in self.message.lower()


@dataclass(frozen=True)
class StkAccepted:
    merchant_request_id: str
    checkout_request_id: str


@dataclass(frozen=True)
class StkResult:
    """An STK push's outcome as the query gives it: ResultCode "0" is paid."""

    result_code: str
    result_desc: str


@dataclass(frozen=True)
class Accepted:
    """Daraja took a B2C payment or a status query; the result comes by callback."""

    conversation_id: str
    originator_conversation_id: str


class Daraja(Protocol):
    def stk_push(
        self, *, phone: str, amount: int, reference: str, description: str, callback_url: str
    ) -> StkAccepted:
        """Prompt `phone` (MSISDN) to pay `amount` whole shillings; raises DarajaError."""
        ...

    def stk_query(self, checkout_request_id: str) -> StkResult:
        """The push's result; raises DarajaError (`being_processed` while unanswered)."""
        ...

    def b2c(
        self,
        *,
        originator_conversation_id: str,
        phone: str,
        amount: int,
        remarks: str,
        occasion: str,
        result_url: str,
        timeout_url: str,
    ) -> Accepted:
        """Pay `amount` whole shillings to `phone` (MSISDN); raises DarajaError (see
        `duplicate`)."""
        ...

    def transaction_status(
        self,
        *,
        occasion: str,
        result_url: str,
        timeout_url: str,
        originator_conversation_id: str = "",
        transaction_id: str = "",
    ) -> Accepted:
        """Ask what became of a B2C payment (by its OriginatorConversationID) or of a
        payment into the paybill (by its receipt, `transaction_id`); the answer is
        POSTed to result_url. Raises DarajaError."""
        ...

    def reverse(
        self,
        *,
        transaction_id: str,
        amount: int,
        remarks: str,
        occasion: str,
        result_url: str,
        timeout_url: str,
    ) -> Accepted:
        """Give back a payment made into the paybill (its receipt, its whole amount in
        shillings); the result is POSTed to result_url and a status query by the
        answer's OriginatorConversationID finds it. Raises DarajaError."""
        ...

    def pay_bill(
        self,
        *,
        paybill: str,
        account: str,
        amount: int,
        requester: str,
        remarks: str,
        result_url: str,
        timeout_url: str,
    ) -> Accepted:
        """Business Pay Bill (B2B): pay `amount` whole shillings to a biller's paybill
        for the customer's `account` (AccountReference); `requester` is the customer's
        MSISDN. The result is POSTed to result_url and a status query by the answer's
        OriginatorConversationID finds it. Daraja takes no caller-chosen id here: a
        repeat is a second payment. Raises DarajaError."""
        ...

    def bill_account(self, *, paybill: str, account: str) -> str | None:
        """The account holder's name as M-Pesa shows it before a Pay Bill ("JANE W."),
        or None when the biller does not know the account. Raises DarajaError."""
        ...

    def register_c2b_urls(
        self, *, confirmation_url: str, validation_url: str, response_type: str
    ) -> None:
        """Tell M-Pesa where to validate and confirm payments into the paybill (C2B),
        and what to do when validation does not answer (`Completed` or `Cancelled`).
        Raises DarajaError."""
        ...


def daraja_timestamp(moment: float) -> str:
    """YYYYMMDDHHmmss in Nairobi time, as the STK password and Timestamp want it."""
    return datetime.fromtimestamp(moment, UTC).astimezone(NAIROBI).strftime("%Y%m%d%H%M%S")


def stk_password(shortcode: str, passkey: str, timestamp: str) -> str:
    """base64(BusinessShortCode + passkey + Timestamp)."""
    return base64.b64encode(f"{shortcode}{passkey}{timestamp}".encode()).decode()


@dataclass(frozen=True)
class DarajaConfig:
    base_url: str
    consumer_key: str
    consumer_secret: str
    shortcode: str
    passkey: str
    b2c_shortcode: str
    initiator_name: str
    security_credential: str
    stk_transaction_type: str = "CustomerPayBillOnline"
    timeout_s: float = 15.0

    @classmethod
    def from_settings(cls, settings: Settings) -> DarajaConfig:
        def secret(value) -> str:
            return value.get_secret_value() if value is not None else ""

        return cls(
            base_url=settings.daraja_base_url.rstrip("/"),
            consumer_key=secret(settings.daraja_consumer_key),
            consumer_secret=secret(settings.daraja_consumer_secret),
            shortcode=settings.daraja_shortcode,
            passkey=secret(settings.daraja_passkey),
            b2c_shortcode=settings.daraja_b2c_shortcode,
            initiator_name=settings.daraja_initiator_name,
            security_credential=secret(settings.daraja_security_credential),
            stk_transaction_type=settings.daraja_stk_transaction_type,
            timeout_s=settings.daraja_timeout_s,
        )


class DarajaClient:
    """The real adapter: one httpx client, one OAuth token shared by threads."""

    def __init__(
        self,
        config: DarajaConfig,
        *,
        clock: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._config = config
        self._clock = clock
        self._http = httpx.Client(
            base_url=config.base_url, timeout=config.timeout_s, transport=transport
        )
        self._token: tuple[str, float] | None = None  # (token, renew at)
        self._token_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> DarajaClient:
        return cls(DarajaConfig.from_settings(settings))

    def close(self) -> None:
        self._http.close()

    # ---- the API --------------------------------------------------------------------

    def stk_push(
        self, *, phone: str, amount: int, reference: str, description: str, callback_url: str
    ) -> StkAccepted:
        config = self._config
        body = {
            **self._stk_credentials(),
            "TransactionType": config.stk_transaction_type,
            "Amount": amount,
            "PartyA": phone,
            "PartyB": config.shortcode,
            "PhoneNumber": phone,
            "CallBackURL": callback_url,
            "AccountReference": reference[:12],
            "TransactionDesc": description[:13],
        }
        answer = self._accepted(self._post("/mpesa/stkpush/v1/processrequest", body))
        return StkAccepted(
            merchant_request_id=str(answer.get("MerchantRequestID", "")),
            checkout_request_id=_required(answer, "CheckoutRequestID"),
        )

    def stk_query(self, checkout_request_id: str) -> StkResult:
        body = {**self._stk_credentials(), "CheckoutRequestID": checkout_request_id}
        answer = self._accepted(self._post("/mpesa/stkpushquery/v1/query", body))
        return StkResult(
            result_code=_required(answer, "ResultCode"),
            result_desc=str(answer.get("ResultDesc", ""))[:300],
        )

    def b2c(
        self,
        *,
        originator_conversation_id: str,
        phone: str,
        amount: int,
        remarks: str,
        occasion: str,
        result_url: str,
        timeout_url: str,
    ) -> Accepted:
        config = self._config
        body = {
            "OriginatorConversationID": originator_conversation_id,
            "InitiatorName": config.initiator_name,
            "SecurityCredential": config.security_credential,
            "CommandID": "BusinessPayment",
            "Amount": amount,
            "PartyA": config.b2c_shortcode,
            "PartyB": phone,
            "Remarks": remarks[:100],
            "QueueTimeOutURL": timeout_url,
            "ResultURL": result_url,
            "Occasion": occasion[:100],
        }
        return self._conversation(self._post("/mpesa/b2c/v3/paymentrequest", body))

    def transaction_status(
        self,
        *,
        occasion: str,
        result_url: str,
        timeout_url: str,
        originator_conversation_id: str = "",
        transaction_id: str = "",
    ) -> Accepted:
        config = self._config
        # A payment into the paybill is known to M-Pesa under the paybill's shortcode,
        # a B2C payment under the B2C one.
        paid_in = bool(transaction_id)
        body = {
            "Initiator": config.initiator_name,
            "SecurityCredential": config.security_credential,
            "CommandID": "TransactionStatusQuery",
            "TransactionID": transaction_id,
            "OriginalConversationID": originator_conversation_id,
            "PartyA": config.shortcode if paid_in else config.b2c_shortcode,
            "IdentifierType": "4",
            "ResultURL": result_url,
            "QueueTimeOutURL": timeout_url,
            "Remarks": "PayTrace payment check" if paid_in else "PayTrace withdrawal check",
            "Occasion": occasion[:100],
        }
        return self._conversation(self._post("/mpesa/transactionstatus/v1/query", body))

    def reverse(
        self,
        *,
        transaction_id: str,
        amount: int,
        remarks: str,
        occasion: str,
        result_url: str,
        timeout_url: str,
    ) -> Accepted:
        config = self._config
        body = {
            "Initiator": config.initiator_name,
            "SecurityCredential": config.security_credential,
            "CommandID": "TransactionReversal",
            "TransactionID": transaction_id,
            "Amount": amount,
            "ReceiverParty": config.shortcode,
            "RecieverIdentifierType": "11",  # Daraja's spelling: the paybill as receiver
            "ResultURL": result_url,
            "QueueTimeOutURL": timeout_url,
            "Remarks": remarks[:100],
            "Occasion": occasion[:100],
        }
        return self._conversation(self._post("/mpesa/reversal/v1/request", body))

    def pay_bill(
        self,
        *,
        paybill: str,
        account: str,
        amount: int,
        requester: str,
        remarks: str,
        result_url: str,
        timeout_url: str,
    ) -> Accepted:
        config = self._config
        body = {
            "Initiator": config.initiator_name,
            "SecurityCredential": config.security_credential,
            "CommandID": "BusinessPayBill",
            "SenderIdentifierType": "4",
            "RecieverIdentifierType": "4",  # Daraja's spelling
            "Amount": amount,
            "PartyA": config.b2c_shortcode,
            "PartyB": paybill,
            "AccountReference": account,
            "Requester": requester,
            "Remarks": remarks[:100],
            "QueueTimeOutURL": timeout_url,
            "ResultURL": result_url,
        }
        return self._conversation(self._post("/mpesa/b2b/v1/paymentrequest", body))

    def bill_account(self, *, paybill: str, account: str) -> str | None:
        body = {"PartyB": paybill, "AccountReference": account}
        try:
            answer = self._accepted(self._post("/mpesa/b2b/v1/accountlookup", body))
        except DarajaError as exc:
            if exc.status == 404:
                return None
            raise
        return _required(answer, "AccountName")[:40]

    def register_c2b_urls(
        self, *, confirmation_url: str, validation_url: str, response_type: str
    ) -> None:
        body = {
            "ShortCode": self._config.shortcode,
            "ResponseType": response_type,
            "ConfirmationURL": confirmation_url,
            "ValidationURL": validation_url,
        }
        self._accepted(self._post("/mpesa/c2b/v1/registerurl", body))

    # ---- plumbing -------------------------------------------------------------------

    def _stk_credentials(self) -> dict[str, str]:
        config = self._config
        timestamp = daraja_timestamp(self._clock())
        return {
            "BusinessShortCode": config.shortcode,
            "Password": stk_password(config.shortcode, config.passkey, timestamp),
            "Timestamp": timestamp,
        }

    def _conversation(self, answer: dict) -> Accepted:
        answer = self._accepted(answer)
        return Accepted(
            conversation_id=_required(answer, "ConversationID"),
            originator_conversation_id=str(answer.get("OriginatorConversationID", "")),
        )

    @staticmethod
    def _accepted(answer: dict) -> dict:
        code = str(answer.get("ResponseCode", "")).strip()
        if code != "0":
            desc = str(answer.get("ResponseDescription") or answer.get("errorMessage") or "")
            raise DarajaError(Failure.PERMANENT, desc or "refused", code=code or None)
        return answer

    def _post(self, path: str, body: dict) -> dict:
        """POST with the bearer token; an expired token is renewed once and the
        request sent again (a 401 means Daraja did not act on it)."""
        for attempt in (1, 2):
            token = self._bearer(renew=attempt == 2)
            response = self._send(
                "POST", path, json=body, headers={"Authorization": f"Bearer {token}"}
            )
            if response.status_code != 401:
                return _answer(response)
        raise _refusal(response)

    def _bearer(self, *, renew: bool) -> str:
        with self._token_lock:
            now = self._clock()
            if renew or self._token is None or now >= self._token[1]:
                self._token = self._new_token(now)
            return self._token[0]

    def _new_token(self, now: float) -> tuple[str, float]:
        config = self._config
        basic = base64.b64encode(f"{config.consumer_key}:{config.consumer_secret}".encode())
        response = self._send(
            "GET",
            "/oauth/v1/generate",
            params={"grant_type": "client_credentials"},
            headers={"Authorization": "Basic " + basic.decode()},
        )
        if response.status_code != 200:
            error = _refusal(response)
            # No request was made with it: a refused token is never ambiguous.
            kind = Failure.RETRYABLE if error.kind is Failure.AMBIGUOUS else error.kind
            raise DarajaError(kind, f"OAuth: {error.message}", status=error.status, code=error.code)
        answer = _answer(response)
        token = _required(answer, "access_token")
        try:
            lifetime = float(answer.get("expires_in", 3599))
        except (TypeError, ValueError):
            lifetime = 3599.0
        return token, now + max(0.0, lifetime - TOKEN_MARGIN_S)

    def _send(self, method: str, path: str, **kwargs) -> httpx.Response:
        try:
            return self._http.request(method, path, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise DarajaError(Failure.RETRYABLE, f"not connected: {type(exc).__name__}") from exc
        except httpx.HTTPError as exc:
            raise DarajaError(Failure.AMBIGUOUS, f"no answer: {type(exc).__name__}") from exc


def _answer(response: httpx.Response) -> dict:
    if response.status_code >= 400:
        raise _refusal(response)
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise DarajaError(Failure.AMBIGUOUS, "unreadable answer", status=response.status_code)
    return body


def _refusal(response: httpx.Response) -> DarajaError:
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    code = str(body.get("errorCode") or "") or None
    message = str(body.get("errorMessage") or response.reason_phrase or status)[:300]
    if status in (401, 429, 503):
        kind = Failure.RETRYABLE
    elif status < 500:
        kind = Failure.PERMANENT
    elif _BEING_PROCESSED in message.lower():
        # An STK query too early: nothing was asked of M-Pesa, ask again later.
        kind = Failure.RETRYABLE
    elif code == "500.001.1001":
        kind = Failure.PERMANENT  # wrong STK credentials: refused before any prompt
    else:
        kind = Failure.AMBIGUOUS
    return DarajaError(kind, message, status=status, code=code)


def _required(answer: dict, name: str) -> str:
    value = answer.get(name)
    if value is None or isinstance(value, bool) or str(value).strip() == "":
        raise DarajaError(Failure.AMBIGUOUS, f"answer without {name}")
    return str(value).strip()
