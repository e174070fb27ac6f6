"""POSTing a webhook to a merchant's endpoint, over real HTTP (httpx): the adapter the
worker sends every delivery through. Its outcome is never an exception: a status code,
or an error saying what went wrong (never a header: the signature stays out of logs).

In production a host is resolved first and refused if any of its addresses is not
public (loopback, private, link-local...), so that a merchant's DNS cannot point the
worker at PayTrace's own network. Redirects are not followed: a 3xx is a failure.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

import httpx

from app.domain.webhooks import address_is_public

MAX_ERROR = 200


@dataclass(frozen=True, slots=True)
class SendResult:
    status_code: int | None  # None: no answer (timeout, refused, unresolvable)
    latency_ms: int
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class WebhookSender(Protocol):
    def post(self, url: str, body: bytes, headers: dict[str, str]) -> SendResult:
        """POST body to url; never raises."""
        ...


class HttpWebhookSender:
    def __init__(self, *, timeout_s: float, production: bool) -> None:
        self._production = production
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout_s), follow_redirects=False, trust_env=False
        )

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> SendResult:
        started = time.monotonic()
        try:
            if self._production:
                _refuse_private(url)
            response = self._client.post(url, content=body, headers=headers)
            # Read (and drop) at most what was sent back: the merchant's body is not ours.
            response.close()
            error = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
            return SendResult(response.status_code, _ms_since(started), error)
        except httpx.TimeoutException as exc:
            return SendResult(None, _ms_since(started), f"timeout: {type(exc).__name__}")
        except (httpx.HTTPError, OSError, ValueError) as exc:
            return SendResult(None, _ms_since(started), _describe(exc))

    def close(self) -> None:
        self._client.close()


class PrivateAddress(ValueError):
    pass


def _refuse_private(url: str) -> None:
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 443
    for *_, sockaddr in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP):
        if not address_is_public(ipaddress.ip_address(sockaddr[0])):
            raise PrivateAddress("the host resolves to an address that is not public")


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:MAX_ERROR]


def _ms_since(started: float) -> int:
    return max(0, round((time.monotonic() - started) * 1000))
