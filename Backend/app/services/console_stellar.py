"""PayTrace's own Stellar accounts for the console: the issuer, the treasury, the fee
account and the settlement channels, each with its XLM and KES as Horizon shows them now.

Only public addresses leave this module: the seeds are opened (SystemAccounts, as the
worker opens them) to learn the addresses, the channels' derived from the fee seed.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.config import Settings
from app.integrations.stellar import StellarNetwork, StellarUnavailable, stroops_to_amount
from app.services.custody import SecretBox, SystemAccounts
from app.services.reconciliation import STROOPS_PER_CENT


@dataclass(frozen=True)
class SystemAccount:
    name: str  # issuer | treasury | fee | channel 0...
    address: str
    exists: bool
    xlm: str | None  # the native balance, exactly (7 decimals); None: no account
    kes_cents: int | None  # None: no KES trustline (the issuer never holds its own asset)


@dataclass(frozen=True)
class StellarAccounts:
    accounts: tuple[SystemAccount, ...]
    problem: str | None = None  # why nothing could be read: not configured, Horizon down


def addresses(settings: Settings, box: SecretBox) -> tuple[list[tuple[str, str]], str]:
    """(name, public address) of each system account, and the KES asset's key; raises
    ValueError when a seed is not configured, UndecryptableSecret."""
    system = SystemAccounts.from_settings(settings, box)
    named = [
        ("issuer", system.issuer.public_key),
        ("treasury", system.treasury.public_key),
        ("fee", system.fee.public_key),
    ]
    named += [(f"channel {n}", kp.public_key) for n, kp in enumerate(system.channels)]
    return named, f"{system.asset.code}:{system.asset.issuer}"


def balances(network: StellarNetwork | None, settings: Settings, box: SecretBox) -> StellarAccounts:
    """Each system account's balances from the network, read now. Never raises for an
    unconfigured or unreachable network: the answer says why it is empty."""
    if network is None:
        return StellarAccounts((), "STELLAR_HORIZON_URL is not set")
    try:
        named, asset = addresses(settings, box)
    except ValueError as exc:
        return StellarAccounts((), str(exc))
    found = []
    try:
        for name, address in named:
            state = network.account(address)
            if state is None:
                found.append(SystemAccount(name, address, False, None, None))
                continue
            native = state.balances.get("native")
            kes = state.balances.get(asset)
            found.append(
                SystemAccount(
                    name,
                    address,
                    True,
                    stroops_to_amount(native) if native is not None else None,
                    kes // STROOPS_PER_CENT if kes is not None else None,
                )
            )
    except StellarUnavailable as exc:
        return StellarAccounts(tuple(found), f"Horizon could not be asked: {exc}")
    return StellarAccounts(tuple(found))
