"""Airtime top-ups through Africa's Talking's Airtime API, behind the `AirtimeRail` port.

`send` is AT's `POST /version1/airtime/send` through the official SDK
(`AirtimeService.send`, one recipient, an Idempotency-Key); `find` is AT's transaction
status query (`GET /query/transaction/find`, the SDK's own request plumbing: the
Airtime service has no method for it). A failure of `send` is:

* *retryable* - the request provably never reached AT (no connection made);
* *permanent* - AT answered and sent nothing (the recipient's status 'Failed', or
  nobody sent), or the SDK refused the number before any request;
* *ambiguous* - it may have reached AT and been sent: a read timeout, a connection lost
  mid-request, any non-2xx (the SDK hides the status code, and a gateway's 5xx may hide
  a top-up AT made), a 2xx we cannot read. The bill goes 'unknown' and only `find`
  (AT's own word) ends it.

A top-up AT 'Sent' is not yet delivered: AT's final status ('Success' / 'Failed') comes
by its status callback and by `find`; only `find` is believed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

import requests
from africastalking.Airtime import AirtimeService
from africastalking.Service import AfricasTalkingException, validate_phone

from app.config import Settings
from app.domain.money import CENTS_PER_SHILLING
from app.integrations.sms import SmsOutcome, at_account, classify_transport_error

CURRENCY = "KES"
FIND_PATH = "/query/transaction/find"
# AT's final statuses of a top-up, as `find` and the status callback spell them.
AT_DELIVERED, AT_FAILED = "Success", "Failed"


class Failure(StrEnum):
    RETRYABLE = "retryable"
    PERMANENT = "permanent"
    AMBIGUOUS = "ambiguous"


class AirtimeError(Exception):
    """A send without a usable answer, or a query that could not be made."""

    def __init__(self, kind: Failure, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


@dataclass(frozen=True)
class TopUpSent:
    """AT took the top-up under its requestId; its final status comes later."""

    request_id: str


class TopUpState(StrEnum):
    DELIVERED = "delivered"
    FAILED = "failed"
    PENDING = "pending"  # AT has it, not final yet
    NOT_FOUND = "not_found"  # AT does not know this id (never a reason to release)


@dataclass(frozen=True)
class TopUpStatus:
    """AT's own answer about one top-up."""

    request_id: str
    state: TopUpState
    phone: str | None = None
    amount: int | None = None  # cents
    detail: str = ""


class AirtimeRail(Protocol):
    def send(self, *, phone: str, amount: int, idempotency_key: str) -> TopUpSent:
        """Top up phone (E.164) with amount cents (whole shillings), once per key.

        Raises AirtimeError (retryable, permanent or ambiguous)."""
        ...

    def find(self, request_id: str) -> TopUpStatus:
        """AT's status of a top-up; raises AirtimeError (retryable) when AT cannot be
        asked now."""
        ...


def _shillings(amount: int) -> int:
    if amount <= 0 or amount % CENTS_PER_SHILLING:
        raise AirtimeError(Failure.PERMANENT, "AT tops up whole shillings")
    return amount // CENTS_PER_SHILLING


def cents_of(value: object) -> int | None:
    """AT's 'KES 100.0000' as cents, or None when it is not that."""
    parts = str(value or "").split()
    if len(parts) != 2 or parts[0] != CURRENCY:
        return None
    whole, _, fraction = parts[1].partition(".")
    if not whole.isdigit() or (fraction and not fraction.isdigit()):
        return None
    fraction = (fraction + "00")[:2]
    return int(whole) * CENTS_PER_SHILLING + int(fraction)


def parse_send_answer(body: object) -> TopUpSent:
    """Read AT's send answer for its one recipient; raises AirtimeError."""
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError as exc:
            raise AirtimeError(Failure.AMBIGUOUS, "AT answered 2xx with no JSON") from exc
    try:
        responses = body["responses"]  # type: ignore[index]
        message = str(body.get("errorMessage") or "")  # type: ignore[union-attr]
    except (KeyError, TypeError, AttributeError) as exc:
        raise AirtimeError(Failure.AMBIGUOUS, "AT answered 2xx with an unexpected body") from exc
    if not responses:
        # AT refused the request as a whole (e.g. its balance): nobody was sent airtime.
        raise AirtimeError(Failure.PERMANENT, f"AT sent nothing: {message[:120]}")
    try:
        [answer] = responses
        status, request_id = str(answer["status"]), str(answer.get("requestId") or "")
    except (KeyError, TypeError, ValueError) as exc:
        raise AirtimeError(Failure.AMBIGUOUS, "AT's recipient answer is unreadable") from exc
    if status == AT_FAILED:
        reason = str(answer.get("errorMessage") or "Failed")
        raise AirtimeError(Failure.PERMANENT, f"AT failed it: {reason[:120]}")
    if status in ("Sent", AT_DELIVERED) and request_id and request_id != "None":
        return TopUpSent(request_id)
    raise AirtimeError(Failure.AMBIGUOUS, f"AT answered {status!r} without a usable id")


def parse_find_answer(request_id: str, body: object) -> TopUpStatus:
    """Read AT's transaction status; anything but a clear answer about this id is
    PENDING or NOT_FOUND (neither moves money)."""
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return TopUpStatus(request_id, TopUpState.PENDING, detail="unreadable answer")
    if not isinstance(body, dict) or body.get("status") != "Success":
        detail = str(body.get("errorMessage", "")) if isinstance(body, dict) else ""
        return TopUpStatus(request_id, TopUpState.NOT_FOUND, detail=detail[:120])
    data = body.get("data")
    if not isinstance(data, dict) or str(data.get("transactionId")) != request_id:
        return TopUpStatus(request_id, TopUpState.NOT_FOUND, detail="another transaction")
    state = {AT_DELIVERED: TopUpState.DELIVERED, AT_FAILED: TopUpState.FAILED}.get(
        str(data.get("status")), TopUpState.PENDING
    )
    return TopUpStatus(
        request_id,
        state,
        phone=str(data.get("destination") or "") or None,
        amount=cents_of(data.get("value")),
        detail=str(data.get("description") or "")[:120],
    )


class AfricasTalkingAirtime:
    """The real adapter: the official SDK, pointed at AT or at the local sandbox."""

    def __init__(
        self, *, username: str, api_key: str, base_url: str | None, timeout_s: float
    ) -> None:
        self._username, self._api_key = username, api_key
        self._base_url = base_url.rstrip("/") if base_url else None
        self._timeout = (min(3.05, timeout_s), timeout_s)

    @classmethod
    def from_settings(cls, settings: Settings) -> AfricasTalkingAirtime:
        """The production adapter, or the same SDK pointed at the local sandbox."""
        base_url, api_key = at_account(settings)
        return cls(
            username=settings.at_username,
            api_key=api_key,
            base_url=base_url,
            timeout_s=settings.at_airtime_timeout_s,
        )

    def _service(self) -> AirtimeService:
        # One per call: the SDK keeps an Idempotency-Key in the service's own headers
        # once set, so a shared service would send one bill's key with the next.
        service = AirtimeService(self._username, self._api_key)
        if self._base_url:
            service._baseUrl = self._base_url + "/version1/airtime"
        return service

    def _find_url(self) -> str:
        if self._base_url:
            return self._base_url + FIND_PATH
        host = "payments.sandbox." if self._username == "sandbox" else "payments."
        return f"https://{host}africastalking.com{FIND_PATH}"

    def send(self, *, phone: str, amount: int, idempotency_key: str) -> TopUpSent:
        """Top up through AT; raises AirtimeError."""
        shillings = _shillings(amount)
        if not validate_phone(phone):
            raise AirtimeError(Failure.PERMANENT, "not a phone number AT accepts")
        try:
            body = self._service().send(
                phone_number=phone,
                amount=shillings,
                currency_code=CURRENCY,
                idempotency_key=idempotency_key,
                timeout=self._timeout,
            )
        except ValueError as exc:  # the SDK's own validation: nothing was sent
            raise AirtimeError(Failure.PERMANENT, str(exc)[:120]) from exc
        except AfricasTalkingException as exc:
            raise AirtimeError(Failure.AMBIGUOUS, f"AT answered non-2xx: {str(exc)[:120]}") from exc
        except requests.RequestException as exc:
            raise _transport(exc) from exc
        return parse_send_answer(body)

    def find(self, request_id: str) -> TopUpStatus:
        """AT's transaction status; raises AirtimeError (retryable)."""
        service = self._service()
        try:
            body = service._make_request(
                self._find_url(),
                "GET",
                headers=dict(service._headers),
                data=None,
                params={"username": self._username, "transactionId": request_id},
                timeout=self._timeout,
            )
        except (AfricasTalkingException, requests.RequestException) as exc:
            raise AirtimeError(Failure.RETRYABLE, f"AT not asked: {str(exc)[:120]}") from exc
        return parse_find_answer(request_id, body)


def _transport(exc: requests.RequestException) -> AirtimeError:
    outcome = classify_transport_error(exc).outcome
    kind = Failure.RETRYABLE if outcome is SmsOutcome.RETRYABLE else Failure.AMBIGUOUS
    return AirtimeError(kind, f"{kind}: {type(exc).__name__}")


@dataclass
class FakeAirtime:
    """A hand-written AirtimeRail for unit tests, held to AfricasTalkingAirtime over the
    local AT sandbox by tests/integration/test_airtime_port_contract.py.

    `script(phone, answer)` queues what sending to phone does: 'delivered' (the default:
    sent, final Success), 'failed' (sent, final Failed), 'refused' (AT's 'Failed' at
    once), or an AirtimeError raised after the top-up was made (ambiguous) or not made
    (retryable, permanent). One top-up per idempotency key, as AT.
    """

    sent: list[tuple[str, int, str]] = field(default_factory=list)
    _script: dict[str, list[str | AirtimeError]] = field(default_factory=dict)
    _by_key: dict[str, str] = field(default_factory=dict)
    _topups: dict[str, TopUpStatus] = field(default_factory=dict)

    def script(self, phone: str, *answers: str | AirtimeError) -> None:
        self._script.setdefault(phone, []).extend(answers)

    def send(self, *, phone: str, amount: int, idempotency_key: str) -> TopUpSent:
        shillings = _shillings(amount)
        if not validate_phone(phone):
            raise AirtimeError(Failure.PERMANENT, "not a phone number AT accepts")
        if idempotency_key in self._by_key:
            return TopUpSent(self._by_key[idempotency_key])
        queue = self._script.get(phone)
        answer = queue.pop(0) if queue else "delivered"
        if answer == "refused":
            raise AirtimeError(Failure.PERMANENT, "AT failed it: Failed")
        if isinstance(answer, AirtimeError) and answer.kind is not Failure.AMBIGUOUS:
            raise answer
        request_id = f"ATQid_fake{len(self._topups) + 1}"
        state = TopUpState.FAILED if answer == "failed" else TopUpState.DELIVERED
        self._topups[request_id] = TopUpStatus(
            request_id, state, phone=phone, amount=shillings * CENTS_PER_SHILLING
        )
        self._by_key[idempotency_key] = request_id
        self.sent.append((phone, amount, request_id))
        if isinstance(answer, AirtimeError):
            raise answer  # made, but its answer lost
        return TopUpSent(request_id)

    def find(self, request_id: str) -> TopUpStatus:
        return self._topups.get(request_id) or TopUpStatus(request_id, TopUpState.NOT_FOUND)

    def request_id_for(self, phone: str) -> str | None:
        """The last top-up made to phone (what AT's status callback would name)."""
        return next((rid for p, _, rid in reversed(self.sent) if p == phone), None)
