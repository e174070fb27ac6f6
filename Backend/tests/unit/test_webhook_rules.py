"""Webhook rules with no I/O: the retry schedule, the give-up point, the signature a
merchant verifies (byte for byte), and which endpoint URLs are refused."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

import pytest

from app.domain import webhooks as rules

SECRET = "whsec_" + "k" * 43


def test_the_retry_schedule_is_10s_1min_10min_1h_6h_then_every_12h():
    delays = [rules.retry_delay(n) for n in range(1, 9)]
    assert delays == [
        timedelta(seconds=10),
        timedelta(minutes=1),
        timedelta(minutes=10),
        timedelta(hours=1),
        timedelta(hours=6),
        timedelta(hours=12),
        timedelta(hours=12),
        timedelta(hours=12),
    ]
    with pytest.raises(ValueError):
        rules.retry_delay(0)


def test_an_endpoint_is_given_up_after_three_days_of_failures_not_before():
    assert not rules.gives_up(timedelta(days=3) - timedelta(seconds=1))
    assert rules.gives_up(timedelta(days=3))


def test_an_event_failing_for_good_is_tried_twelve_times_before_its_endpoint_goes():
    elapsed, attempt = timedelta(0), 1  # the first attempt starts the failing clock
    while not rules.gives_up(elapsed):
        elapsed += rules.retry_delay(attempt)
        attempt += 1
    # 6 attempts in the first 7 h 11 min, then one every 12 h: the 12th, at 79 h, fails
    # more than 3 days after the first and disables the endpoint.
    assert (attempt, elapsed) == (12, timedelta(hours=79, minutes=11, seconds=10))


def test_the_signature_is_hmac_sha256_of_t_dot_body_with_the_secret():
    body = b'{"data":{},"id":"evt_1","type":"ping"}'
    expected = hmac.new(SECRET.encode(), b"1780000000." + body, hashlib.sha256).hexdigest()
    assert rules.signing_payload(1780000000, body) == b"1780000000." + body
    assert rules.signature_header(SECRET, 1780000000, body) == f"t=1780000000,v1={expected}"


def test_verify_accepts_the_header_and_refuses_any_change():
    body = rules.event_body("evt_" + "a" * 24, "order.paid", "2026-12-04T00:00:00+00:00", {"x": 1})
    header = rules.signature_header(SECRET, 1780000000, body)
    assert rules.verify(SECRET, header, body, now=1780000100)
    assert not rules.verify(SECRET, header, body + b" ", now=1780000100)
    assert not rules.verify(SECRET + "x", header, body, now=1780000100)
    assert not rules.verify(SECRET, header, body, now=1780000000 + 301)
    assert not rules.verify(SECRET, header.replace("t=1780000000", "t=1780000001"), body,
                            now=1780000000)  # fmt: skip
    assert not rules.verify(SECRET, "", body, now=1780000000)


def test_the_body_is_the_same_bytes_for_the_same_event():
    a = rules.event_body("evt_x", "order.paid", "t", {"b": 1, "a": [1, 2]})
    b = rules.event_body("evt_x", "order.paid", "t", {"a": [1, 2], "b": 1})
    assert a == b == b'{"created_at":"t","data":{"a":[1,2],"b":1},"id":"evt_x","type":"order.paid"}'


@pytest.mark.parametrize(
    "url",
    [
        "https://shop.example.com/hooks",
        "https://shop.example.com:8443/hooks?src=paytrace",
        "https://203.0.113.9/hooks".replace("203.0.113.9", "8.8.8.8"),
    ],
)
def test_public_https_urls_are_accepted_in_production(url):
    assert rules.url_problem(url, production=True) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://shop.example.com/hooks",  # not https
        "ftp://shop.example.com/hooks",
        "file:///etc/passwd",
        "gopher://shop.example.com/",
        "javascript:alert(1)",
        "https://user:pass@shop.example.com/hooks",  # credentials
        "https://user@shop.example.com/hooks",
        "https://shop.example.com@169.254.169.254/latest",
        "https://127.0.0.1/hooks",  # loopback
        "https://localhost/hooks",
        "https://api.localhost/hooks",
        "https://10.0.0.5/hooks",  # private
        "https://192.168.1.1/hooks",
        "https://172.16.0.1/hooks",
        "https://169.254.169.254/latest/meta-data",  # link-local: cloud metadata
        "https://[::1]/hooks",
        "https://[fe80::1]/hooks",
        "https://[::ffff:10.0.0.1]/hooks",  # IPv4-mapped private
        "https://0.0.0.0/hooks",
        "https://100.64.0.1/hooks",  # carrier-grade NAT
        "https://224.0.0.1/hooks",  # multicast
        "https://intranet/hooks",  # a bare name resolves inside
        "https://db.internal/hooks",
        "https://shop.example.com/hooks#frag",
        "https://shop.example.com:99999/hooks",  # no such port
        "https://shop.example.com/a b",
        "https://shop.example.com/\u00e9",
        "https:///hooks",
        "",
        "https://" + "a" * 2048 + ".com/",
    ],
)
def test_hostile_urls_are_refused_in_production(url):
    assert rules.url_problem(url, production=True) is not None


def test_a_local_receiver_is_allowed_outside_production_only():
    url = "http://127.0.0.1:8765/hooks"
    assert rules.url_problem(url, production=False) is None
    assert rules.url_problem(url, production=True) is not None
    # Outside production still no other plain-http host, and no credentials.
    assert rules.url_problem("http://shop.example.com/hooks", production=False) is not None
    assert rules.url_problem("http://10.0.0.5/hooks", production=False) is not None
    assert rules.url_problem("http://u:p@127.0.0.1:8765/", production=False) is not None
