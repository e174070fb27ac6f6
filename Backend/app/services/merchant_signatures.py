"""Signed merchant requests: the PayTrace-Signature header, pure (no I/O).

    PayTrace-Signature: t=<unix seconds>,kid=<key id>,v1=<hex HMAC-SHA256>

v1 is HMAC-SHA256, keyed with the key's secret (its ASCII text), of the signing string

    <t> "\\n" <METHOD> "\\n" <path, with "?" and the query when there is one> "\\n"
    <hex SHA-256 of the raw body (of b"" when there is none)>

so that the time, the method, the path, the query and every byte of the body are
signed: the pay-order services this replaces signed neither body nor path, so a
captured signature could carry any body for five minutes. The path and query are
signed as sent on the wire (percent-encoding untouched): nothing is normalised, so
client and server cannot disagree about a canonical form.

What is checked here: the header's shape, the time window, the MAC (constant time).
Which key, whether it is live and whether the signature was seen before are the
callers' (app/services/merchant_keys.py, the API's replay guard).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from app.errors import InvalidSignature

HEADER = "PayTrace-Signature"
WINDOW_S = 300  # a signature is good from t - 300 s to t + 300 s of PayTrace's clock
_HEADER_MAX = 200
_HEADER_RE = re.compile(r"t=([0-9]{1,12}),\s?kid=([A-Za-z0-9_]{1,64}),\s?v1=([0-9a-f]{64})")
# What a refused signature says whatever failed among key, secret and MAC: a stranger
# must not learn whether a key id exists, is revoked, or belongs to a suspended merchant.
DOES_NOT_VERIFY = "the signature does not verify"


@dataclass(frozen=True, slots=True)
class Signature:
    timestamp: int
    key_id: str
    mac: str  # 64 lower-case hex digits

    @property
    def replay_id(self) -> str:
        """What identifies this signature in the replay guard."""
        return f"{self.key_id}:{self.mac}"


def parse(header: str | None) -> Signature:
    """The header's parts; raises InvalidSignature for a missing or malformed one."""
    if not header:
        raise InvalidSignature(f"send a {HEADER} header (docs/merchants.md)")
    found = _HEADER_RE.fullmatch(header.strip()) if len(header) <= _HEADER_MAX else None
    if found is None:
        raise InvalidSignature(f"{HEADER} is not t=<unix>,kid=<key id>,v1=<64 hex digits>")
    return Signature(int(found.group(1)), found.group(2), found.group(3))


def check_fresh(signature: Signature, now: float) -> None:
    """Raises InvalidSignature unless t is within WINDOW_S of now (either side)."""
    if abs(now - signature.timestamp) > WINDOW_S:
        raise InvalidSignature(
            f"the signature's time t is more than {WINDOW_S} s from PayTrace's clock"
        )


def signing_string(timestamp: int, method: str, path: str, body: bytes) -> bytes:
    """What v1 signs (see the module's docstring)."""
    digest = hashlib.sha256(body).hexdigest()
    return f"{timestamp}\n{method.upper()}\n{path}\n{digest}".encode()


def sign(secret: str, timestamp: int, method: str, path: str, body: bytes) -> str:
    """The hex v1 a client sends: what PayTrace recomputes."""
    message = signing_string(timestamp, method, path, body)
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def header_value(
    key_id: str, secret: str, timestamp: int, method: str, path: str, body: bytes
) -> str:
    """A whole PayTrace-Signature header value (for clients, tests and the docs)."""
    return f"t={timestamp},kid={key_id},v1={sign(secret, timestamp, method, path, body)}"


def mac_matches(secret: str, signature: Signature, method: str, path: str, body: bytes) -> bool:
    """Whether v1 is the MAC of this request under `secret`, compared in constant time."""
    expected = sign(secret, signature.timestamp, method, path, body)
    return hmac.compare_digest(expected, signature.mac)
