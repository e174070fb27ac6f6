"""Merchant API keys: issued (the secret shown once), revoked, and looked up to check a
signed request.

A secret is stored as a Fernet token under WALLET_ENCRYPTION_KEYS (the SecretBox that
keeps wallet seeds): HMAC needs the secret itself back, so it cannot be hashed, and a
copy of the database alone signs nothing. Secrets are never logged nor audited.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.db.pool import Database
from app.db.repositories.merchants import TooManyLiveKeys
from app.db.unit_of_work import UnitOfWork
from app.domain import merchants as rules
from app.domain.records.merchants import MerchantKeyRow
from app.errors import InvalidSignature, NotFound, TooManyKeys
from app.services import custody
from app.services import merchant_signatures as signatures
from app.services.custody import SecretBox, UndecryptableSecret
from app.services.merchant_signatures import DOES_NOT_VERIFY, Signature

log = logging.getLogger("paytrace.merchants")

SECRET_PREFIX = "mks_"  # noqa: S105 - a prefix that makes a leaked secret recognisable, not a secret
# last_used_at is a hint for operators (which key is still in use before revoking one):
# a minute's precision spares a write on every request.
TOUCH_EVERY = timedelta(minutes=1)
# Compared against when the key id is unknown, so that an unknown key costs the same
# HMAC as a known one with a wrong MAC.
_DUMMY_SECRET = SECRET_PREFIX + "x" * 43


@dataclass(frozen=True, slots=True)
class IssuedKey:
    key: MerchantKeyRow
    secret: str  # returned to the operator once; PayTrace keeps only its encryption


@dataclass(frozen=True, slots=True)
class SignedCaller:
    """Who signed a request that verified."""

    merchant_id: int
    key_id: str
    last_used_at: datetime | None


def new_key_id() -> str:
    return rules.KEY_ID_PREFIX + secrets.token_hex(12)


def issue_key(
    uow: UnitOfWork, box: SecretBox, merchant_id: int, key_id: str | None = None
) -> IssuedKey:
    """A new live key for the merchant (key_id: drawn by new_key_id() when not given, so
    a caller can record it first); commits. The merchant's row is locked while live
    keys are counted, so two concurrent issues cannot both make a third key (the
    database's trigger refuses it too). Raises NotFound, TooManyKeys, ServiceUnavailable."""
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    with uow:
        if uow.merchants.get(merchant_id, for_update=True) is None:
            raise NotFound("no such merchant")
        if uow.merchant_keys.count_live(merchant_id) >= rules.MAX_LIVE_KEYS:
            raise TooManyKeys(f"at most {rules.MAX_LIVE_KEYS} live keys: revoke one first")
        try:
            key = uow.merchant_keys.insert(
                key_id=key_id or new_key_id(),
                merchant_id=merchant_id,
                secret_ct=box.encrypt(secret),
            )
        except TooManyLiveKeys:
            raise TooManyKeys(
                f"at most {rules.MAX_LIVE_KEYS} live keys: revoke one first"
            ) from None
        uow.commit()
    return IssuedKey(key, secret)


def revoke_key(uow: UnitOfWork, merchant_id: int, key_id: str, now: datetime) -> MerchantKeyRow:
    """Revoke one of the merchant's keys for good; commits. Revoking a revoked key again
    changes nothing and answers it as it is. Raises NotFound, ServiceUnavailable."""
    with uow:
        key = uow.merchant_keys.revoke(merchant_id=merchant_id, key_id=key_id, now=now)
        if key is None:
            raise NotFound("this merchant has no such key")
        uow.commit()
    return key


def verify(
    uow: UnitOfWork, box: SecretBox, signature: Signature, method: str, path: str, body: bytes
) -> SignedCaller:
    """The caller, when the signature is a live key's of an active merchant and its MAC
    holds; reads only. Raises InvalidSignature (one detail for every such failure),
    ServiceUnavailable."""
    with uow:
        key = uow.merchant_keys.signing_key(signature.key_id)
    secret = _DUMMY_SECRET
    if key is not None:
        try:
            secret = box.decrypt(key.secret_ct)
        except UndecryptableSecret:
            # An operator dropped an encryption key too early: loud here, a plain
            # refusal to the caller.
            log.error("merchant key secret opens under no key", extra={"key_id": key.key_id})
            key = None
    matches = signatures.mac_matches(secret, signature, method, path, body)
    usable = key is not None and not key.revoked and key.merchant_status == "active"
    if not (matches and usable):
        raise InvalidSignature(DOES_NOT_VERIFY)
    assert key is not None
    return SignedCaller(key.merchant_id, key.key_id, key.last_used_at)


def use_is_stale(caller: SignedCaller, now: datetime) -> bool:
    """Whether the key's last_used_at is a minute old or more (or unset): only then is
    record_use worth a round trip."""
    return caller.last_used_at is None or caller.last_used_at <= now - TOUCH_EVERY


def record_use(uow: UnitOfWork, caller: SignedCaller, now: datetime) -> None:
    """Keep last_used_at to the minute: writes only when the stored one is a minute old
    (the common case is no statement at all; callers on the event loop ask use_is_stale
    first and skip the thread-pool hop); commits when it writes."""
    if not use_is_stale(caller, now):
        return
    with uow:
        uow.merchant_keys.touch(caller.key_id, now=now, older_than=now - TOUCH_EVERY)
        uow.commit()


def rekey_secrets(database: Database, box: SecretBox, batch_size: int = 500) -> int:
    """Re-encrypt every merchant key's secret under the newest key (they share
    WALLET_ENCRYPTION_KEYS with wallet seeds, so `make rotate-keys` must move them too);
    returns how many were rewritten. Batch by batch, each batch one transaction with its
    rows locked; secrets already under the newest key are left alone, so a rerun is
    cheap. Raises UndecryptableSecret naming the key's row id, never the secret."""
    return custody.rekey_secrets(
        database,
        box,
        read=lambda uow, after, limit: uow.merchant_keys.batch_for_rekey(after, limit),
        write=lambda uow, row_id, token: uow.merchant_keys.set_secret(row_id, token),
        what="merchant key",
        batch_size=batch_size,
    )
