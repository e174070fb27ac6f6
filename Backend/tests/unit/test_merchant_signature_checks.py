"""Checking a signed merchant request past its header: which key, whether it may sign,
and the replay guard. Hand-written fakes for the key store, fakeredis for Redis."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import fakeredis
import pytest
from cryptography.fernet import Fernet

from app.api.merchant.auth import first_sighting
from app.config import Settings
from app.domain.records.merchants import SigningKey
from app.errors import InvalidSignature, ServiceUnavailable
from app.runtime import Runtime
from app.services import merchant_keys
from app.services import merchant_signatures as sig
from app.services.custody import SecretBox

BOX = SecretBox([Fernet.generate_key().decode()])
SECRET = "mks_" + "s" * 43
KEY = "mk_live_" + "a" * 24
ME = "/api/v1/merchant/me"


class FakeKeys:
    def __init__(self, *keys: SigningKey) -> None:
        self.keys = {key.key_id: key for key in keys}

    def signing_key(self, key_id: str) -> SigningKey | None:
        return self.keys.get(key_id)


class FakeUnitOfWork:
    """What verify uses of a unit of work: `with uow:` and its key store."""

    def __init__(self, *keys: SigningKey) -> None:
        self.merchant_keys = FakeKeys(*keys)

    def __enter__(self) -> FakeUnitOfWork:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def stored(*, revoked: bool = False, status: str = "active", secret: str = SECRET) -> SigningKey:
    return SigningKey(KEY, 7, BOX.encrypt(secret), revoked, status, None)


def signature(secret: str = SECRET, key_id: str = KEY, body: bytes = b"") -> sig.Signature:
    return sig.parse(sig.header_value(key_id, secret, int(time.time()), "GET", ME, body))


def verify(uow: FakeUnitOfWork, signature: sig.Signature, body: bytes = b""):
    return merchant_keys.verify(uow, BOX, signature, "GET", ME, body)  # type: ignore[arg-type]


def test_a_live_keys_signature_names_its_merchant():
    caller = verify(FakeUnitOfWork(stored()), signature())
    assert (caller.merchant_id, caller.key_id) == (7, KEY)


@pytest.mark.parametrize(
    ("uow", "signed"),
    [
        (FakeUnitOfWork(stored(revoked=True)), signature()),  # revoked key
        (FakeUnitOfWork(stored(status="suspended")), signature()),  # suspended merchant
        (FakeUnitOfWork(stored()), signature(secret="mks_" + "w" * 43)),  # wrong key
        (FakeUnitOfWork(), signature()),  # unknown key
        (FakeUnitOfWork(stored()), signature(body=b"{}")),  # another body
    ],
    ids=["revoked", "suspended", "wrong key", "unknown key", "changed body"],
)
def test_every_failure_is_the_same_401(uow, signed):
    with pytest.raises(InvalidSignature) as refused:
        verify(uow, signed)
    assert refused.value.status_code == 401
    assert refused.value.detail == sig.DOES_NOT_VERIFY


def test_a_secret_no_configured_key_opens_is_refused_not_a_crash():
    other_box = SecretBox([Fernet.generate_key().decode()])
    unreadable = SigningKey(KEY, 7, other_box.encrypt(SECRET), False, "active", None)
    with pytest.raises(InvalidSignature):
        verify(FakeUnitOfWork(unreadable), signature())


def test_last_used_at_is_stale_after_a_minute():
    now = datetime.now(UTC)
    caller = merchant_keys.SignedCaller(7, KEY, None)
    assert merchant_keys.use_is_stale(caller, now)
    fresh = merchant_keys.SignedCaller(7, KEY, now - timedelta(seconds=59))
    assert not merchant_keys.use_is_stale(fresh, now)
    assert merchant_keys.use_is_stale(
        merchant_keys.SignedCaller(7, KEY, now - timedelta(minutes=1)), now
    )


# ---- the replay guard ------------------------------------------------------------------


def runtime(redis, data_dir) -> Runtime:
    settings = Settings(_env_file=None, environment="test", redis_prefix="t:", data_dir=data_dir)
    return Runtime(settings=settings, database=None, redis=redis)  # type: ignore[arg-type]


def test_a_signature_is_let_through_once_and_remembered_for_the_whole_window(tmp_path):
    async def run() -> tuple[int, int]:
        redis = fakeredis.FakeAsyncRedis(decode_responses=True)
        rt, once = runtime(redis, tmp_path), signature()
        await first_sighting(rt, once)
        with pytest.raises(InvalidSignature, match="used before"):
            await first_sighting(rt, once)
        await first_sighting(rt, signature(key_id="mk_live_" + "b" * 24))  # another key's
        return await redis.ttl(f"t:merchant:sig:{once.replay_id}"), await redis.dbsize()

    ttl, keys = asyncio.run(run())
    assert 2 * sig.WINDOW_S <= ttl <= 2 * sig.WINDOW_S + 1 and keys == 2


def test_without_redis_no_signature_is_let_through(tmp_path):
    async def run() -> None:
        server = fakeredis.FakeServer()
        server.connected = False
        with pytest.raises(ServiceUnavailable):
            await first_sighting(
                runtime(fakeredis.FakeAsyncRedis(server=server), tmp_path), signature()
            )

    asyncio.run(run())
