"""Sending SMS through Africa's Talking, behind the `SmsSender` port.

Every failure is mapped to one of three kinds, because the outbox worker must
never send a message twice:

* *retryable* - the message provably did not go: AT answered with a per-recipient
  500/501/502, or the TCP connection was never made (connect refused, connect
  timeout, DNS failure), or AT refused the request as a whole (non-2xx);
* *permanent* - AT will never deliver it: 401-409 per recipient (invalid number,
  blacklisted, insufficient balance...), or a number the SDK refuses to send to;
* *ambiguous* - the request may have reached AT and been accepted: a read timeout,
  a connection dropped mid-request, a 2xx answer we cannot read, a status code we
  do not know, or a gateway timeout. Retrying could send twice, so the worker
  records 'unknown' for an operator instead.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar, Protocol

import requests
import urllib3.exceptions
from africastalking.Service import AfricasTalkingException, validate_phone
from africastalking.SMS import SMSService

from app.config import Settings

ACCEPTED_CODES = frozenset({100, 101, 102})  # Processed, Sent, Queued
PERMANENT_CODES = frozenset(range(401, 410))  # RiskHold ... DoNotDisturbRejection
RETRYABLE_CODES = frozenset({500, 501, 502})  # InternalServerError, GatewayError, Rejected
# AT's name for each per-recipient statusCode, as its answer spells it in `status`.
AT_STATUSES = {
    100: "Processed",
    101: "Success",
    102: "Queued",
    401: "RiskHold",
    402: "InvalidSenderId",
    403: "InvalidPhoneNumber",
    404: "UnsupportedNumberType",
    405: "InsufficientBalance",
    406: "UserInBlacklist",
    407: "CouldNotRoute",
    409: "DoNotDisturbRejection",
    500: "InternalServerError",
    501: "GatewayError",
    502: "RejectedByGateway",
}
# Any key works against the local sandbox; it only checks that one is sent.
SANDBOX_API_KEY = "local-sandbox-key"


def at_account(settings: Settings) -> tuple[str | None, str]:
    """(base URL or None for AT's own, API key) every AT adapter uses: AT's with a real
    key; without one, the same SDK pointed at PayTrace's local AT sandbox."""
    base_url = settings.at_base_url or None
    if settings.at_api_key is None:
        return base_url or settings.base_url.rstrip("/") + "/sandbox/at", SANDBOX_API_KEY
    return base_url, settings.at_api_key.get_secret_value()


class SmsOutcome(StrEnum):
    ACCEPTED = "accepted"
    PERMANENT = "permanent"
    RETRYABLE = "retryable"
    AMBIGUOUS = "ambiguous"


def classify_status_code(code: int | None) -> SmsOutcome:
    """What AT's per-recipient statusCode means for the outbox."""
    if code in ACCEPTED_CODES:
        return SmsOutcome.ACCEPTED
    if code in PERMANENT_CODES:
        return SmsOutcome.PERMANENT
    if code in RETRYABLE_CODES:
        return SmsOutcome.RETRYABLE
    return SmsOutcome.AMBIGUOUS  # an unknown code may still mean "sent"


@dataclass(frozen=True)
class SmsResult:
    """AT's answer for one recipient."""

    number: str
    status_code: int | None
    status: str
    message_id: str | None = None
    cost: str | None = None

    @property
    def outcome(self) -> SmsOutcome:
        return classify_status_code(self.status_code)


class SmsError(Exception):
    """A send that failed as a whole, before any per-recipient answer."""

    outcome: ClassVar[SmsOutcome]


class SmsRetryable(SmsError):
    outcome = SmsOutcome.RETRYABLE


class SmsPermanent(SmsError):
    outcome = SmsOutcome.PERMANENT


class SmsAmbiguous(SmsError):
    outcome = SmsOutcome.AMBIGUOUS


class SmsSender(Protocol):
    def send(self, message: str, recipients: Sequence[str]) -> list[SmsResult]:
        """Hand one message to the provider for each recipient (E.164).

        Raises SmsRetryable, SmsPermanent or SmsAmbiguous when there is no
        per-recipient answer.
        """
        ...


def parse_response(body: object) -> list[SmsResult]:
    """Read AT's SMSMessageData answer; raises SmsAmbiguous or SmsPermanent."""
    if isinstance(body, str):  # the SDK hands back text unless content-type is exact
        try:
            body = json.loads(body)
        except ValueError as exc:
            raise SmsAmbiguous("AT answered 2xx with a body that is not JSON") from exc
    try:
        data = body["SMSMessageData"]  # type: ignore[index]
        recipients = data["Recipients"]
        results = [
            SmsResult(
                number=str(item["number"]),
                status_code=int(item["statusCode"]),
                status=str(item.get("status", "")),
                message_id=_message_id(item.get("messageId")),
                cost=item.get("cost"),
            )
            for item in recipients
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise SmsAmbiguous("AT answered 2xx with an unexpected body") from exc
    if not results:
        # AT refused the request as a whole (e.g. InvalidSenderId): nothing was queued.
        raise SmsPermanent(f"AT sent to nobody: {str(data.get('Message', ''))[:200]}")
    return results


def _message_id(value: object) -> str | None:
    # AT says "None" (a string) for recipients it did not accept.
    return None if value in (None, "", "None") else str(value)


def classify_transport_error(exc: requests.RequestException) -> SmsError:
    """Map an HTTP-level failure: only a connection never made is safe to retry."""
    if isinstance(exc, requests.ConnectTimeout):
        return SmsRetryable(f"connect timeout: {type(exc).__name__}")
    if isinstance(exc, requests.ConnectionError) and not isinstance(exc, requests.ReadTimeout):
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        # NewConnectionError (refused, DNS) derives from ConnectTimeoutError.
        if isinstance(reason, urllib3.exceptions.ConnectTimeoutError):
            return SmsRetryable(f"could not connect: {type(reason).__name__}")
    return SmsAmbiguous(f"request may have reached AT: {type(exc).__name__}")


class AfricasTalkingSms:
    """The real adapter: the official `africastalking` SDK, unchanged.

    With `base_url` the SDK talks to another AT-compatible server (PayTrace's
    local sandbox): the code path - SDK call, HTTP, parsing - stays the same.
    """

    def __init__(
        self,
        *,
        username: str,
        api_key: str,
        base_url: str | None = None,
        sender_id: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self._service = SMSService(username, api_key)
        if base_url:
            # The SDK has no option for this; it builds URLs as _baseUrl + "/messaging".
            self._service._baseUrl = base_url.rstrip("/") + "/version1"
        self._sender_id = sender_id
        self._timeout = (min(3.05, timeout_s), timeout_s)

    @classmethod
    def from_settings(cls, settings: Settings) -> AfricasTalkingSms:
        """The production adapter, or the same SDK pointed at the local sandbox."""
        base_url, api_key = at_account(settings)
        return cls(
            username=settings.at_username,
            api_key=api_key,
            base_url=base_url,
            sender_id=settings.at_sender_id,
            timeout_s=settings.at_timeout_s,
        )

    @property
    def endpoint(self) -> str:
        return self._service._make_url("/messaging")

    def send(self, message: str, recipients: Sequence[str]) -> list[SmsResult]:
        """Send through AT; raises SmsRetryable, SmsPermanent or SmsAmbiguous."""
        _refuse_unsendable(recipients)
        try:
            body = self._service.send(
                message, list(recipients), sender_id=self._sender_id, timeout=self._timeout
            )
        except AfricasTalkingException as exc:
            raise _refusal(str(exc)) from exc
        except requests.RequestException as exc:
            raise classify_transport_error(exc) from exc
        return parse_response(body)


def _refuse_unsendable(recipients: Sequence[str]) -> None:
    """The SDK sends nothing to a number it does not take (nor to no one)."""
    if not recipients or not all(validate_phone(number) for number in recipients):
        raise SmsPermanent("not a phone number AT accepts")


def _refusal(text: str) -> SmsError:
    # The SDK hides the HTTP status of a non-2xx answer. AT's own refusals (bad
    # key, missing field, 5xx) mean nothing was queued; a proxy's gateway timeout
    # may hide an accepted request.
    lowered = text.lower()
    if "504" in lowered or "timeout" in lowered or "timed out" in lowered:
        return SmsAmbiguous(f"gateway timeout from AT: {text[:120]}")
    return SmsRetryable(f"AT refused the request: {text[:120]}")


@dataclass
class FakeSms:
    """A hand-written SmsSender for unit tests: records every call, answers as scripted.

    `script(number, 500, 101)` queues answers for a number: ints are per-recipient
    status codes (answered with AT's status name), SmsError instances are raised.
    Unscripted calls get 101 Success. A number the SDK refuses is refused as it does,
    before any answer. tests/integration/test_sms_port_contract.py holds it to
    AfricasTalkingSms over the local AT sandbox.
    """

    calls: list[tuple[str, str]] = field(default_factory=list)
    _answers: dict[str, list[int | SmsError]] = field(default_factory=dict)

    def script(self, number: str, *answers: int | SmsError) -> None:
        self._answers.setdefault(number, []).extend(answers)

    def send(self, message: str, recipients: Sequence[str]) -> list[SmsResult]:
        _refuse_unsendable(recipients)
        results = []
        for number in recipients:
            self.calls.append((number, message))
            queue = self._answers.get(number)
            answer = queue.pop(0) if queue else 101
            if isinstance(answer, SmsError):
                raise answer
            accepted = classify_status_code(answer) is SmsOutcome.ACCEPTED
            results.append(
                SmsResult(
                    number=number,
                    status_code=answer,
                    status=AT_STATUSES.get(answer, str(answer)),
                    message_id=f"fake-{len(self.calls)}" if accepted else None,
                    cost="KES 0.8000" if accepted else "0",
                )
            )
        return results
