"""Access tokens, sealed SMS, keyed digests and history cursors: pure logic."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from app.api.cursors import decode_cursor, encode_cursor
from app.errors import InvalidToken, ValidationFailed
from app.services.access_tokens import AUDIENCE, AccessTokens
from app.services.keys import OtpHasher, SmsSeal, UnreadableSeal, derive_key, keyed_digest

SECRET = "s" * 32


def test_an_access_token_names_its_user_and_session_until_it_expires():
    tokens = AccessTokens(SECRET, ttl_s=900)
    session = uuid.uuid4()
    claims = tokens.verify(tokens.issue(42, session))
    assert (claims.user_id, claims.session_id) == (42, session)
    stale = tokens.issue(42, session, now=datetime.now(UTC) - timedelta(seconds=901))
    with pytest.raises(InvalidToken, match="expired"):
        tokens.verify(stale)


def test_two_tokens_issued_at_once_differ():
    tokens, session = AccessTokens(SECRET, ttl_s=900), uuid.uuid4()
    assert tokens.issue(1, session) != tokens.issue(1, session)


@pytest.mark.parametrize(
    "change",
    [
        {"aud": "someone-else"},
        {"iss": "someone-else"},
        {"typ": "refresh"},
        {"sub": "not-a-number"},
        {"sid": "not-a-uuid"},
    ],
)
def test_a_token_with_foreign_or_broken_claims_is_refused(change):
    now = datetime.now(UTC)
    claims = {
        "iss": "paytrace",
        "aud": AUDIENCE,
        "sub": "1",
        "sid": str(uuid.uuid4()),
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "typ": "access",
        **change,
    }
    with pytest.raises(InvalidToken):
        AccessTokens(SECRET, ttl_s=900).verify(jwt.encode(claims, SECRET, algorithm="HS256"))


@pytest.mark.parametrize("junk", ["", "a.b.c", "Bearer x", "é" * 10])
def test_junk_is_an_invalid_token_not_a_crash(junk):
    with pytest.raises(InvalidToken):
        AccessTokens(SECRET, ttl_s=900).verify(junk)


def test_a_sealed_sms_opens_only_under_its_key_and_untampered():
    seal = SmsSeal(derive_key(SECRET, "sms-seal"))
    sealed = seal.seal("PayTrace code: 123456")
    assert "123456" not in sealed
    assert seal.open(sealed) == "PayTrace code: 123456"
    with pytest.raises(UnreadableSeal):
        SmsSeal(derive_key("another secret", "sms-seal")).open(sealed)
    with pytest.raises(UnreadableSeal):
        seal.open(sealed[:-4] + "AAAA")


def test_keys_for_different_purposes_differ_and_codes_hash_per_phone_and_purpose():
    assert derive_key(SECRET, "otp") != derive_key(SECRET, "sms-seal")
    hasher = OtpHasher(derive_key(SECRET, "otp"))
    digest = hasher.hash("+254711000001", "login", "123456")
    assert hasher.matches(digest, "+254711000001", "login", "123456")
    assert not hasher.matches(digest, "+254711000002", "login", "123456")
    assert not hasher.matches(digest, "+254711000001", "register", "123456")
    key = derive_key(SECRET, "api-pin-attempt")
    assert keyed_digest(key, "k", "4821") != keyed_digest(key, "k", "4822")
    assert "4821" not in keyed_digest(key, "k", "4821")


def test_a_cursor_round_trips_and_junk_is_refused():
    assert decode_cursor("l", encode_cursor("l", 12345)) == 12345
    assert decode_cursor("l", None) is None
    for junk in [
        "",
        "!!!",
        "bm9wZQ",
        encode_cursor("l", 0),
        encode_cursor("s", 12345),  # another list's cursor
        "bDotMQ",
        "bDo5OTk5OTk5OTk5OTk5OTk5OTk5OTk5",
    ]:
        with pytest.raises(ValidationFailed):
            decode_cursor("l", junk)
