"""Source-network allow-lists for the provider edges: /ussd and the AT callbacks
(AT_ALLOWED_NETWORKS), the Daraja callbacks (MPESA_ALLOWED_NETWORKS).

A second wall behind the callback tokens: a leaked token is of no use from outside
the provider's networks. An empty list allows every address (the token still
applies). The caller's address is the peer's, or behind TRUSTED_PROXIES the one the
proxies report (client_address.py). A refusal is answered 403 JSON before anything
is read - on /ussd too: the caller is not AT, so there is no phone to show a screen
to - and logged with the address and the path (secret segments masked), never a body.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from app.config import Settings
from app.http.client_address import (
    IPNetwork,
    forwarded_chain,
    in_networks,
    parse_address,
    resolve_client,
)
from app.http.error_body import error_body

log = logging.getLogger("paytrace.api")

# Callback tokens travel as path segments; no real route segment is this long.
_SECRET_SEGMENT_LENGTH = 16


def masked(path: str) -> str:
    """The path with every segment long enough to be a token replaced by ***."""
    return "/".join(
        "***" if len(part) >= _SECRET_SEGMENT_LENGTH else part for part in path.split("/")
    )


def rules_from_settings(settings: Settings) -> list[tuple[str, list[IPNetwork]]]:
    """(path prefix, allowed networks) for each provider edge that has a list."""
    rules = [
        ("/ussd", list(settings.at_allowed_networks)),
        ("/callbacks/at", list(settings.at_allowed_networks)),
        ("/callbacks/mpesa", list(settings.mpesa_allowed_networks)),
        # C2B (paybill) callbacks: Daraja refuses URLs that name "mpesa", so they live
        # apart, and are Safaricom's all the same.
        ("/callbacks/c2b", list(settings.mpesa_allowed_networks)),
    ]
    return [(prefix, networks) for prefix, networks in rules if networks]


class SourceNetworks:
    """Refuses (403) a provider edge's request from outside that edge's networks."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        rules: Sequence[tuple[str, Sequence[IPNetwork]]],
        trusted_proxies: Sequence[IPNetwork] = (),
    ) -> None:
        self.app = app
        self.rules = list(rules)
        self.trusted_proxies = list(trusted_proxies)

    def _networks_for(self, path: str) -> Sequence[IPNetwork] | None:
        for prefix, networks in self.rules:
            if path == prefix or path.startswith(prefix + "/"):
                return networks
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        networks = self._networks_for(scope["path"]) if scope["type"] == "http" else None
        if networks is None:
            await self.app(scope, receive, send)
            return
        peer = scope.get("client")
        caller = resolve_client(
            peer[0] if peer else None,
            forwarded_chain(Headers(scope=scope).getlist("x-forwarded-for")),
            self.trusted_proxies,
        )
        address = parse_address(caller)
        if address is not None and in_networks(address, networks):
            await self.app(scope, receive, send)
            return
        log.warning(
            "request from outside the allowed networks refused",
            extra={"address": caller, "path": masked(scope["path"])},
        )
        body = json.dumps(
            error_body("forbidden", "this network may not call this endpoint")
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
