"""`python -m app.cli.stellar_setup`: make PayTrace's own Stellar accounts ready on the network
STELLAR_HORIZON_URL names (any network, the public one included).

The issuer, treasury and fee accounts hold real value on a real network, so PayTrace
never creates them: an operator funds them (their addresses are printed when missing).
Once they exist, this adds what PayTrace can do itself: the treasury's KES trustline
and the channel accounts, created and funded with XLM by the fee account. Safe to
rerun; prints addresses and what it did, never a seed.

Exit codes: 0 ready, 1 accounts to fund first, 2 bad settings, 3 network unreachable.
"""

from __future__ import annotations

import sys

from pydantic import ValidationError
from stellar_sdk import Server
from stellar_sdk.client.requests_client import RequestsClient
from stellar_sdk.exceptions import BaseHorizonError, ConnectionError

from app.config import Settings
from app.services.custody import SecretBox, SystemAccounts, UndecryptableSecret
from app.services.custody_bootstrap import ensure_operating_accounts, missing_accounts


def set_up(settings: Settings) -> tuple[list[tuple[str, str]], list[str]]:
    """(accounts an operator must fund first, what was done); raises ValueError for a
    missing setting, UndecryptableSecret, and stellar-sdk's network errors."""
    if not settings.stellar_horizon_url:
        raise ValueError("STELLAR_HORIZON_URL is not set")
    system = SystemAccounts.from_settings(settings, SecretBox.from_settings(settings))
    server = Server(
        settings.stellar_horizon_url,
        client=RequestsClient(num_retries=0, post_timeout=settings.stellar_timeout_s),
    )
    missing = missing_accounts(server, system)
    if missing:
        return missing, []
    return [], ensure_operating_accounts(server, system, settings.stellar_network_passphrase)


def main() -> int:
    try:
        settings = Settings()
    except ValidationError as exc:
        for error in exc.errors():  # only the messages: a raw input may be a key
            print(f"stellar-setup: invalid settings: {error['msg']}", file=sys.stderr)
        return 2
    try:
        missing, done = set_up(settings)
    except (ValueError, UndecryptableSecret) as exc:
        print(f"stellar-setup: {exc}", file=sys.stderr)
        return 2
    except (ConnectionError, BaseHorizonError) as exc:
        print(f"stellar-setup: the network refused or could not be reached: {exc}", file=sys.stderr)
        return 3
    if missing:
        print("stellar-setup: fund these accounts with XLM first, then run again:")
        for name, address in missing:
            print(f"  {name}: {address}")
        return 1
    print(f"stellar-setup: ready ({', '.join(done) if done else 'nothing to do'}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
