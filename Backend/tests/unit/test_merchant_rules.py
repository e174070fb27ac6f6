"""Merchant rules and the PayTrace-Signature check, pure: no database, no Redis."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from app.domain.merchants import FeeRule, display_name_problem, is_till
from app.errors import InvalidSignature
from app.services import merchant_signatures as sig

SECRET = "mks_" + "s" * 43
KEY = "mk_live_" + "a" * 24
T = 1_780_000_000
PATH = "/api/v1/merchant/orders?status=paid&limit=5"
BODY = b'{"amount": 25000, "reference": "INV-9"}'


def signed(secret: str = SECRET, t: int = T, method: str = "POST", path: str = PATH,
           body: bytes = BODY) -> sig.Signature:  # fmt: skip
    return sig.parse(sig.header_value(KEY, secret, t, method, path, body))


# ---- the signing string, as docs/merchants.md writes it -----------------------------


def test_the_signature_is_hmac_sha256_of_time_method_path_and_the_bodys_sha256():
    digest = hashlib.sha256(BODY).hexdigest()
    message = f"{T}\nPOST\n{PATH}\n{digest}".encode()
    expected = hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest()
    assert sig.sign(SECRET, T, "POST", PATH, BODY) == expected
    assert sig.header_value(KEY, SECRET, T, "POST", PATH, BODY) == f"t={T},kid={KEY},v1={expected}"


def test_an_empty_body_is_signed_as_the_sha256_of_nothing():
    assert sig.signing_string(T, "get", "/p", b"").endswith(
        b"\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert sig.signing_string(T, "get", "/p", b"").split(b"\n")[1] == b"GET"


def test_the_untouched_request_verifies():
    assert sig.mac_matches(SECRET, signed(), "POST", PATH, BODY)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", PATH, BODY.replace(b"25000", b"95000")),  # a changed body
        ("POST", PATH, BODY + b" "),  # one byte more
        ("POST", PATH, b""),  # the body dropped
        ("POST", "/api/v1/merchant/refunds?status=paid&limit=5", BODY),  # another path
        ("POST", "/api/v1/merchant/orders?status=paid&limit=500", BODY),  # another query
        ("POST", "/api/v1/merchant/orders", BODY),  # the query dropped
        ("PUT", PATH, BODY),  # another method
        ("DELETE", PATH, BODY),
    ],
)
def test_a_changed_request_does_not_verify(method, path, body):
    assert not sig.mac_matches(SECRET, signed(), method, path, body)


def test_a_changed_timestamp_does_not_verify():
    moved = sig.Signature(T + 1, KEY, signed().mac)
    assert not sig.mac_matches(SECRET, moved, "POST", PATH, BODY)


def test_another_keys_secret_does_not_verify():
    assert not sig.mac_matches("mks_" + "t" * 43, signed(), "POST", PATH, BODY)


# ---- the header and the window -------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        f"t={T},kid={KEY}",  # no v1
        f"t={T},kid={KEY},v1={'A' * 64}",  # upper-case hex
        f"t={T},kid={KEY},v1={'a' * 63}",
        f"t=-5,kid={KEY},v1={'a' * 64}",
        f"t={T}.5,kid={KEY},v1={'a' * 64}",
        f"kid={KEY},t={T},v1={'a' * 64}",  # another order
        f"t={T},kid={KEY},v1={'a' * 64},v0={'b' * 64}",
        f"t={T},kid=mk/../x,v1={'a' * 64}",
        "x" * 10_000,
    ],
)
def test_a_malformed_header_is_refused(header):
    with pytest.raises(InvalidSignature) as refused:
        sig.parse(header)
    assert refused.value.status_code == 401 and refused.value.code == "invalid_signature"


def test_a_header_with_a_space_after_each_comma_is_read():
    header = f"t={T}, kid={KEY}, v1={'a' * 64}"
    assert sig.parse(header) == sig.Signature(T, KEY, "a" * 64)


@pytest.mark.parametrize("offset", [-300, -1, 0, 1, 300])
def test_a_signature_inside_the_window_is_fresh(offset):
    sig.check_fresh(signed(), now=T + offset)


@pytest.mark.parametrize("offset", [-301, 301, 3600, -86_400])
def test_a_signature_outside_the_window_is_refused(offset):
    with pytest.raises(InvalidSignature):
        sig.check_fresh(signed(), now=T + offset)


# ---- tills, display names, the fee rule ------------------------------------------------


@pytest.mark.parametrize("till", ["12345", "5123456", "900001"])
def test_tills_of_five_to_seven_digits(till):
    assert is_till(till)


@pytest.mark.parametrize("till", ["1234", "12345678", "012345", "51234a", " 51234", "５１２３４"])
def test_other_tills_are_refused(till):
    assert not is_till(till)


@pytest.mark.parametrize("name", ["MAMA MBOGA", "Duka la Kona", "Kibanda & Sons", "X" * 20])
def test_names_a_ussd_screen_can_show(name):
    assert display_name_problem(name) is None


@pytest.mark.parametrize("name", ["X" * 21, "A", "Mama\nMboga", "Café ☕", " MAMA", "Ωmega\x00"])
def test_names_a_ussd_screen_cannot_show(name):
    assert display_name_problem(name) is not None


def test_the_fee_is_the_percentage_rounded_half_up_within_its_bounds():
    rule = FeeRule(bps=150, min_cents=1_000, max_cents=50_000)  # 1.5 %, KES 10 to KES 500
    assert rule.fee_for(10_000) == 1_000  # 150 cents, raised to the floor
    assert rule.fee_for(100_033) == 1_500  # 1500.495 rounds down
    assert rule.fee_for(100_034) == 1_501  # 1500.51 rounds up
    assert rule.fee_for(100_000_000) == 50_000  # capped
    assert isinstance(rule.fee_for(100_034), int)


@pytest.mark.parametrize(
    "rule",
    [FeeRule(-1, 0, 0), FeeRule(10_001, 0, 0), FeeRule(10, 5, 4), FeeRule(10, -1, 4),
     FeeRule(10, 0, 10**13), FeeRule(True, 0, 1)],  # type: ignore[arg-type]
)  # fmt: skip
def test_fee_rules_the_schema_would_refuse_are_refused(rule):
    assert rule.problem() is not None
