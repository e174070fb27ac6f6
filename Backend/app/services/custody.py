"""Custody of wallet secrets: Stellar keypairs, encrypted at rest with rotating keys.

Secrets are MultiFernet tokens. Keys come from WALLET_ENCRYPTION_KEYS: the first
encrypts, every key decrypts, so a new key is prepended first and the old one is
removed only after `rekey_wallets` has moved every wallet secret onto the new key and
PayTrace's own secrets (settings) hold the tokens `rotate_system_secrets` re-encrypted.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from stellar_sdk import Asset, Keypair

from app.config import Settings
from app.db.pool import Database
from app.db.unit_of_work import UnitOfWork

log = logging.getLogger("paytrace.custody")


class UndecryptableSecret(RuntimeError):
    """A stored secret opens under none of the configured keys (a key was dropped too early)."""


class SecretBox:
    """MultiFernet over Fernet keys: the first encrypts, all decrypt."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("SecretBox needs at least one Fernet key")
        fernets = [Fernet(key) for key in keys]
        self._newest = fernets[0]
        self._all = MultiFernet(fernets)

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        """Build from WALLET_ENCRYPTION_KEYS; raises ValueError when none is configured."""
        return cls([key.get_secret_value() for key in settings.wallet_encryption_keys])

    def encrypt(self, plaintext: str) -> str:
        """A token under the newest key; raises nothing."""
        return self._newest.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        """Raises UndecryptableSecret when no configured key opens the token."""
        try:
            return self._all.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise UndecryptableSecret("no configured key decrypts this secret") from exc

    def rotate(self, token: str) -> str:
        """The same plaintext under the newest key; raises UndecryptableSecret."""
        try:
            return self._all.rotate(token.encode()).decode()
        except InvalidToken as exc:
            raise UndecryptableSecret("no configured key decrypts this secret") from exc

    def is_current(self, token: str) -> bool:
        """True when the newest key already opens the token (nothing to rotate)."""
        try:
            self._newest.decrypt(token.encode())
        except InvalidToken:
            return False
        return True


def new_keypair() -> tuple[str, str]:
    """A fresh Stellar keypair: (public address G..., secret seed S...)."""
    keypair = Keypair.random()
    return keypair.public_key, keypair.secret


def open_seeds(box: SecretBox, tokens: Iterable[str]) -> list[Keypair]:
    """Wallet keypairs from their stored tokens, for one signature only: the caller signs
    and drops them, never keeps them. Raises UndecryptableSecret."""
    return [Keypair.from_secret(box.decrypt(token)) for token in tokens]


def wallet_signers(uow: UnitOfWork, box: SecretBox, addresses: list[str]) -> list[Keypair]:
    """The keypairs of these wallets, in this order, read inside the caller's open
    transaction (`with uow:`) and opened for one signature only. Raises
    UndecryptableSecret, KeyError for an address with no wallet."""
    secrets = uow.settlements.wallet_secrets(addresses)
    return open_seeds(box, (secrets[a] for a in addresses))


def rekey_secrets(
    database: Database,
    box: SecretBox,
    *,
    read: Callable[[UnitOfWork, int, int], list[tuple[int, str]]],
    write: Callable[[UnitOfWork, int, str], None],
    what: str,
    batch_size: int = 500,
) -> int:
    """Re-encrypt one table's secrets under the newest key; returns how many were
    rewritten. `read(uow, after_id, limit)` locks and returns the next batch of
    (row id, token) in id order; `write(uow, row id, token)` stores one.

    Batch by batch, each batch one transaction with its rows locked, so signing can carry
    on meanwhile. Idempotent: secrets already under the newest key are left alone, which
    makes a rerun (or a run interrupted halfway) cheap and keeps the count meaningful.
    Raises UndecryptableSecret (naming `what` and the row id, never the secret) if a
    stored secret opens under no configured key; batches already done stay committed,
    so a rerun with the right keys carries on where this one stopped.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    rewritten, after_id = 0, 0
    while True:
        uow = UnitOfWork(database)
        with uow:
            batch = read(uow, after_id, batch_size)
            for row_id, token in batch:
                if box.is_current(token):
                    continue
                try:
                    rotated = box.rotate(token)
                except UndecryptableSecret as exc:
                    raise UndecryptableSecret(
                        f"{what} {row_id}: secret opens under no configured key"
                    ) from exc
                write(uow, row_id, rotated)
                rewritten += 1
            uow.commit()
        if len(batch) < batch_size:
            return rewritten
        after_id = batch[-1][0]


def rekey_wallets(database: Database, box: SecretBox, batch_size: int = 500) -> int:
    """Re-encrypt every wallet secret under the newest key (rekey_secrets over the
    wallets, WalletRepository.batch_for_rekey locking each batch)."""
    rewritten = rekey_secrets(
        database,
        box,
        read=lambda uow, after, limit: [
            (w.id, w.stellar_secret_ct) for w in uow.wallets.batch_for_rekey(after, limit)
        ],
        write=lambda uow, row_id, token: uow.wallets.set_secret(row_id, token),
        what="wallet",
        batch_size=batch_size,
    )
    log.info("rekey finished", extra={"rewritten": rewritten})
    return rewritten


# PayTrace's own Stellar seeds: Fernet tokens kept in settings (the secret store),
# not in the database, so rotation can only report them and re-encrypt them for the
# operator to put back.
SYSTEM_SECRET_SETTINGS = ("stellar_issuer_secret", "stellar_treasury_secret", "stellar_fee_secret")


@dataclass(frozen=True)
class SystemSecret:
    """Where one of PayTrace's own Stellar secrets stands against the newest key."""

    setting: str  # the environment variable, e.g. STELLAR_FEE_SECRET
    state: str  # current | older_key | unset
    rotated: str | None = None  # older_key only: the same seed's token under the newest key

    def __repr__(self) -> str:  # the token stays out of reprs and tracebacks
        return f"SystemSecret(setting={self.setting!r}, state={self.state!r})"


def rotate_system_secrets(settings: Settings, box: SecretBox) -> list[SystemSecret]:
    """Each of PayTrace's own Stellar secrets, and for those under an older key the token
    re-encrypted under the newest (a ciphertext; the seed never leaves this function).

    Changes nothing: the settings live in the secret store, where the operator puts the
    new tokens. Raises UndecryptableSecret naming the setting (never its value) when no
    configured key opens it.
    """
    found = []
    for name in SYSTEM_SECRET_SETTINGS:
        setting = name.upper()
        value = getattr(settings, name)
        if value is None:
            found.append(SystemSecret(setting, "unset"))
            continue
        token = value.get_secret_value()
        if box.is_current(token):
            found.append(SystemSecret(setting, "current"))
            continue
        try:
            rotated = box.rotate(token)
        except UndecryptableSecret as exc:
            raise UndecryptableSecret(f"{setting} opens under no configured key") from exc
        found.append(SystemSecret(setting, "older_key", rotated))
    return found


@dataclass(frozen=True)
class SystemAccounts:
    """PayTrace's own Stellar accounts, their seeds opened for signing (worker only)."""

    issuer: Keypair
    treasury: Keypair
    fee: Keypair
    asset: Asset
    channels: tuple[Keypair, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings, box: SecretBox) -> SystemAccounts:
        """Raises ValueError when a seed is not configured, UndecryptableSecret when no
        wallet key opens it."""
        seeds = {}
        for name in ("issuer", "treasury", "fee"):
            token = getattr(settings, f"stellar_{name}_secret")
            if token is None:
                raise ValueError(f"STELLAR_{name.upper()}_SECRET is not set")
            seeds[name] = Keypair.from_secret(box.decrypt(token.get_secret_value()))
        return cls(
            issuer=seeds["issuer"],
            treasury=seeds["treasury"],
            fee=seeds["fee"],
            asset=Asset(settings.stellar_asset_code, seeds["issuer"].public_key),
            channels=channel_keypairs(seeds["fee"], settings.stellar_channels),
        )


def channel_keypairs(fee: Keypair, count: int) -> tuple[Keypair, ...]:
    """The settlement channel accounts: seeds derived from the fee account's seed
    (HMAC-SHA256 keyed by it), so rotating or restoring the fee secret brings them along
    and no further secret needs keeping."""
    root = fee.raw_secret_key()
    return tuple(
        Keypair.from_raw_ed25519_seed(
            hmac.new(root, f"paytrace-channel:{index}".encode(), hashlib.sha256).digest()
        )
        for index in range(count)
    )
