"""`python -m app.sandboxes.stellar`: serve PayTrace's local Stellar network (development only)."""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn

from app.sandboxes.stellar.app import create_app
from app.sandboxes.stellar.network import DEFAULT_PASSPHRASE

_DEFAULT_DATA_DIR = Path(__file__).resolve().parents[3] / ".data" / "stellar-network"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line: where to listen, where the ledger lives, which network it is."""
    parser = argparse.ArgumentParser(
        prog="python -m app.sandboxes.stellar",
        description="PayTrace's local Horizon-compatible Stellar network. A development "
        "tool: never point production at it.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8010)
    parser.add_argument("--data-dir", type=Path, default=_DEFAULT_DATA_DIR)
    parser.add_argument("--passphrase", default=DEFAULT_PASSPHRASE)
    parser.add_argument(
        "--close-interval", type=float, default=1.0, help="seconds between ledger closes"
    )
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    if args.close_interval <= 0:
        parser.error("--close-interval must be positive")
    return args


def main(argv: list[str] | None = None) -> None:
    """Serve the network until interrupted (the open ledger is closed on the way out)."""
    args = parse_args(argv)
    app = create_app(
        args.data_dir, passphrase=args.passphrase, close_interval_s=args.close_interval
    )
    # Event streams never end by themselves: give them a second on the way out.
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        timeout_graceful_shutdown=1,
    )


if __name__ == "__main__":
    main()
