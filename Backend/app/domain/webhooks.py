"""Merchant webhooks' rules, with no I/O: which URLs an endpoint may have, the retry
schedule, when a failing endpoint is given up, and the signature a delivery carries.

A merchant checks the signature with the Python snippet in docs/merchants.md; a change
here is a change to every merchant's verifying code.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import re
from datetime import timedelta
from urllib.parse import urlsplit

SIGNATURE_HEADER = "PayTrace-Signature"
EVENT_ID_HEADER = "PayTrace-Event-Id"
EVENT_ID_PREFIX = "evt_"
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix that makes a leaked secret recognisable

# The events PayTrace emits. The order, payment and payout services emit all but ping; a
# merchant asks for a ping to test an endpoint.
EVENT_TYPES = frozenset(
    {
        "ping",
        "order.paid",
        "order.expired",
        "order.canceled",
        "order.partially_refunded",
        "order.refunded",
        "refund.succeeded",
        "payment_request.declined",
        "refund.failed",
        "payout.paid",
        "payout.failed",
    }
)

# After a failed attempt n (1, 2, ...), the next one waits RETRY_DELAYS[n - 1], then
# RETRY_EVERY for good: about 10 s, 1 min, 10 min, 1 h, 6 h, then every 12 h.
RETRY_DELAYS = (
    timedelta(seconds=10),
    timedelta(minutes=1),
    timedelta(minutes=10),
    timedelta(hours=1),
    timedelta(hours=6),
)
RETRY_EVERY = timedelta(hours=12)
# An endpoint whose attempts have all failed for this long is disabled ('failing').
GIVE_UP_AFTER = timedelta(days=3)
MAX_ENDPOINTS = 5  # per merchant: each event is one delivery per endpoint
MAX_URL_LENGTH = 2048
_LOCAL_HOSTS = ("127.0.0.1",)


def retry_delay(failed_attempts: int) -> timedelta:
    """How long to wait after the `failed_attempts`-th failed attempt (1 or more)."""
    if failed_attempts < 1:
        raise ValueError("failed_attempts starts at 1")
    if failed_attempts <= len(RETRY_DELAYS):
        return RETRY_DELAYS[failed_attempts - 1]
    return RETRY_EVERY


def gives_up(failing_for: timedelta) -> bool:
    """Whether an endpoint failing this long (since its first failure after a success)
    is disabled."""
    return failing_for >= GIVE_UP_AFTER


def url_problem(url: str, *, production: bool) -> str | None:
    """Why `url` cannot be a webhook endpoint, or None when it can. Production: https
    to a public host only. Elsewhere also http://127.0.0.1 (a local receiver)."""
    if not isinstance(url, str) or not 1 <= len(url) <= MAX_URL_LENGTH:
        return f"a URL of 1 to {MAX_URL_LENGTH} characters"
    if any(ch.isspace() or ord(ch) < 0x21 or ord(ch) > 0x7E for ch in url):
        return "the URL must be printable ASCII without spaces (percent-encode the rest)"
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return "the URL cannot be parsed"
    del port  # parsed only to refuse a port that is not a number
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return "the URL must not carry credentials"
    if parts.fragment:
        return "the URL must not have a fragment"
    if not host:
        return "the URL has no host"
    local = not production and parts.scheme == "http" and host in _LOCAL_HOSTS
    if parts.scheme != "https" and not local:
        allowed = "https" if production else "https (or http://127.0.0.1 outside production)"
        return f"the URL's scheme must be {allowed}"
    if production:
        return _host_problem(host)
    return None


def _host_problem(host: str) -> str | None:
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return "the URL's host must be public"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None if "." in host else "the URL's host must be a public domain name"
    return None if address_is_public(address) else "the URL's host must be public"


def address_is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether a delivery may go to this address in production (the worker asks it of
    every address a host resolves to, too)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def signing_payload(timestamp: int, body: bytes) -> bytes:
    """What v1 is the HMAC of: `<t>.` followed by the raw body, byte for byte."""
    return f"{timestamp}.".encode() + body


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """v1: hex HMAC-SHA256 of signing_payload, keyed with the secret's ASCII text."""
    return hmac.new(secret.encode(), signing_payload(timestamp, body), hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """The PayTrace-Signature header's value: `t=<unix>,v1=<hex>`."""
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


_HEADER = re.compile(r"t=(\d{1,12}),v1=([0-9a-f]{64})")


def verify(secret: str, header: str, body: bytes, now: int, tolerance_s: int = 300) -> bool:
    """What a merchant's receiver does (docs/merchants.md has the same in a snippet)."""
    found = _HEADER.fullmatch(header or "")
    if found is None or abs(now - int(found[1])) > tolerance_s:
        return False
    return hmac.compare_digest(signature(secret, int(found[1]), body), found[2])


def event_body(public_id: str, event_type: str, created_at: str, data: dict) -> bytes:
    """The JSON a delivery POSTs: compact, keys sorted, so that the same event is the
    same bytes at every attempt."""
    envelope = {"id": public_id, "type": event_type, "created_at": created_at, "data": data}
    return json.dumps(envelope, sort_keys=True, separators=(",", ":")).encode()
