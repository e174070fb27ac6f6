"""Who is calling: X-Forwarded-For is believed only from a trusted proxy, and then only
its right-most address that no trusted proxy added."""

from __future__ import annotations

from ipaddress import ip_network
from types import SimpleNamespace

import pytest
from starlette.requests import Request

from app.api.v1.context import client_address
from app.http.client_address import forwarded_chain, parse_address, resolve_client

PROXIES = [ip_network("10.0.0.0/8"), ip_network("fd00::/8")]
CASES = {
    "no header, no proxy": ("203.0.113.9", [], "203.0.113.9"),
    "a header from an untrusted peer is ignored": ("203.0.113.9", ["196.201.214.5"], "203.0.113.9"),
    "a trusted proxy's header is believed": ("10.0.0.2", ["196.201.214.5"], "196.201.214.5"),
    "the right-most untrusted entry wins over a forged left part": (
        "10.0.0.2",
        ["196.201.214.5", "203.0.113.9"],
        "203.0.113.9",
    ),
    "trusted hops on the right are skipped": (
        "10.0.0.2",
        ["203.0.113.66", "196.201.214.5", "10.1.1.1", "10.2.2.2"],
        "196.201.214.5",
    ),
    "a trusted proxy with no header is the caller": ("10.0.0.2", [], "10.0.0.2"),
    "an entry that is no address stops at the proxy that wrote it": (
        "10.0.0.2",
        ["196.201.214.5", "not-an-ip"],
        "10.0.0.2",
    ),
    "ports and brackets are read": ("10.0.0.2", ["[2001:db8::1]:443"], "2001:db8::1"),
    "v4 with a port": ("10.0.0.2", ["196.201.214.5:5060"], "196.201.214.5"),
    "an IPv6 proxy": ("fd00::1", ["196.201.214.5"], "196.201.214.5"),
    "a v4-mapped peer is the v4 address": ("::ffff:10.0.0.2", ["196.201.214.5"], "196.201.214.5"),
}


@pytest.mark.parametrize("peer,chain,expected", CASES.values(), ids=CASES.keys())
def test_resolve_client(peer, chain, expected):
    assert resolve_client(peer, chain, PROXIES) == expected


def test_with_no_trusted_proxies_the_header_is_never_believed():
    assert resolve_client("127.0.0.1", ["196.201.214.5"], []) == "127.0.0.1"


def test_no_peer_is_unknown():
    assert resolve_client(None, ["196.201.214.5"], PROXIES) == "unknown"


def test_every_copy_of_the_header_is_read_in_order():
    assert forwarded_chain(["1.1.1.1, 2.2.2.2", "3.3.3.3"]) == ["1.1.1.1", "2.2.2.2", "3.3.3.3"]
    assert forwarded_chain(["", " , "]) == []


@pytest.mark.parametrize("text", ["", "x", "1.2.3", "999.1.1.1", "[::1", "unknown"])
def test_junk_is_no_address(text):
    assert parse_address(text) is None


def _request(peer: str, forwarded: list[str], trusted) -> Request:
    settings = SimpleNamespace(trusted_proxies=trusted)
    app = SimpleNamespace(state=SimpleNamespace(runtime=SimpleNamespace(settings=settings)))
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/auth/otp",
        "headers": headers,
        "client": (peer, 5000),
        "app": app,
    }
    return Request(scope)


def test_the_rest_apis_client_address_uses_trusted_proxies_only():
    # The sign-in rate limits count per client_address: a forged header must not
    # give an attacker a fresh address per request.
    assert client_address(_request("203.0.113.9", ["198.51.100.1"], PROXIES)) == "203.0.113.9"
    assert client_address(_request("10.0.0.2", ["198.51.100.1"], PROXIES)) == "198.51.100.1"
    assert client_address(_request("10.0.0.2", ["198.51.100.1"], [])) == "10.0.0.2"
