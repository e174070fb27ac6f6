"""PayTrace's local Horizon-compatible Stellar network - a development tool only.

A separate ASGI app (default 127.0.0.1:8010) that PayTrace's unchanged stellar-sdk
code talks to over real HTTP, and that validates like the network does: signatures
for its own passphrase, sequence numbers, time bounds, fees, reserves, trustlines,
CAP-33 sponsorship and CAP-15 fee bumps, with core's result codes. Ledgers close on a
timer; state persists in SQLite under a data directory.

    python -m app.sandboxes.stellar --data-dir .data/stellar
    create_app(data_dir, passphrase=..., close_interval_s=...)
"""

from app.sandboxes.stellar.app import create_app
from app.sandboxes.stellar.network import DEFAULT_PASSPHRASE, root_keypair

__all__ = ["DEFAULT_PASSPHRASE", "create_app", "root_keypair"]
