"""PayTrace's own Stellar accounts: made ready on a network.

On a real network an operator creates and funds the issuer, treasury and fee accounts,
then `python -m app.cli.stellar_setup` adds the treasury's trustline and the channel
accounts (`ensure_operating_accounts`; docs/operations.md). On PayTrace's local
development network the runner and the tests do it all here: the issuer, treasury and
fee accounts come from the network's friendbot, then the same trustline and channels.
Every step checks first, so running it again changes nothing.
"""

from __future__ import annotations

import logging

import httpx
from stellar_sdk import Network, Server, TransactionBuilder
from stellar_sdk.client.requests_client import RequestsClient
from stellar_sdk.exceptions import NotFoundError

from app.services.custody import SystemAccounts

log = logging.getLogger("paytrace.custody")

# XLM each channel account starts with: it pays the fees of the transactions it sources.
CHANNEL_STARTING_XLM = "100"
_REAL_NETWORKS = (Network.PUBLIC_NETWORK_PASSPHRASE, Network.TESTNET_NETWORK_PASSPHRASE)


class RefusedNetwork(ValueError):
    """Asked to bootstrap a network that is not a local development one."""


def prepare_development_network(
    horizon_url: str, system: SystemAccounts, passphrase: str, *, timeout_s: float = 30.0
) -> list[str]:
    """Make PayTrace's own accounts exist and ready; returns what it had to create."""
    if passphrase in _REAL_NETWORKS:
        raise RefusedNetwork("PayTrace bootstraps its own accounts on a local network only")
    server = Server(horizon_url, client=RequestsClient(num_retries=0, post_timeout=timeout_s))
    done: list[str] = []
    for name in ("issuer", "treasury", "fee"):
        keypair = getattr(system, name)
        if _exists(server, keypair.public_key):
            continue
        answer = httpx.get(
            f"{horizon_url.rstrip('/')}/friendbot",
            params={"addr": keypair.public_key},
            timeout=timeout_s,
        )
        answer.raise_for_status()
        done.append(name)
    done.extend(ensure_operating_accounts(server, system, passphrase))
    if done:
        log.info("development network prepared", extra={"made": ", ".join(done)})
    return done


def ensure_operating_accounts(server: Server, system: SystemAccounts, passphrase: str) -> list[str]:
    """On any network, once issuer, treasury and fee exist: the treasury's KES trustline
    and the channel accounts (created and funded by the fee account). Returns what it
    had to do; raises stellar-sdk's errors when the network refuses."""
    done: list[str] = []
    if not _trusts(server, system.treasury.public_key, system):
        envelope = (
            TransactionBuilder(
                server.load_account(system.treasury.public_key), passphrase, base_fee=100
            )
            .append_change_trust_op(asset=system.asset)
            .set_timeout(60)
            .build()
        )
        envelope.sign(system.treasury)
        server.submit_transaction(envelope)
        done.append("treasury trustline")
    missing = [c for c in system.channels if not _exists(server, c.public_key)]
    if missing:
        builder = TransactionBuilder(
            server.load_account(system.fee.public_key), passphrase, base_fee=100
        )
        for channel in missing:
            builder.append_create_account_op(channel.public_key, CHANNEL_STARTING_XLM)
        envelope = builder.set_timeout(60).build()
        envelope.sign(system.fee)
        server.submit_transaction(envelope)
        done.append(f"{len(missing)} channel account(s)")
    return done


def missing_accounts(server: Server, system: SystemAccounts) -> list[tuple[str, str]]:
    """(name, address) of PayTrace's issuer, treasury and fee accounts not on the network."""
    return [
        (name, getattr(system, name).public_key)
        for name in ("issuer", "treasury", "fee")
        if not _exists(server, getattr(system, name).public_key)
    ]


def _exists(server: Server, address: str) -> bool:
    try:
        server.accounts().account_id(address).call()
    except NotFoundError:
        return False
    return True


def _trusts(server: Server, address: str, system: SystemAccounts) -> bool:
    lines = server.accounts().account_id(address).call()["balances"]
    return any(
        line.get("asset_code") == system.asset.code
        and line.get("asset_issuer") == system.asset.issuer
        for line in lines
    )
