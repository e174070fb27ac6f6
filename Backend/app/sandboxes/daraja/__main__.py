"""`python -m app.sandboxes.daraja`: serve PayTrace's local Daraja sandbox (development only)."""

from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path

import uvicorn

from app.sandboxes.daraja.app import create_app
from app.sandboxes.daraja.config import SandboxConfig

_DEFAULT_DATA_DIR = Path(__file__).resolve().parents[3] / ".data" / "daraja-sandbox"
_DEFAULTS = SandboxConfig()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line: where to listen, where the state lives, the app's credentials."""
    parser = argparse.ArgumentParser(
        prog="python -m app.sandboxes.daraja",
        description="PayTrace's local Daraja-compatible M-Pesa sandbox. A development "
        "tool: never point production at it.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8020)
    parser.add_argument("--data-dir", type=Path, default=_DEFAULT_DATA_DIR)
    for field in fields(SandboxConfig):
        flag = "--" + field.name.replace("_", "-")
        kind = type(getattr(_DEFAULTS, field.name))
        parser.add_argument(flag, type=kind, default=getattr(_DEFAULTS, field.name))
    parser.add_argument("--log-level", default="info")
    return parser.parse_args(argv)


def config_from(args: argparse.Namespace) -> SandboxConfig:
    """The sandbox's configuration from parsed arguments."""
    return SandboxConfig(
        **{field.name: getattr(args, field.name) for field in fields(SandboxConfig)}
    )


def main(argv: list[str] | None = None) -> None:
    """Serve the sandbox until interrupted."""
    args = parse_args(argv)
    try:
        config = config_from(args)
    except ValueError as exc:
        raise SystemExit(f"python -m app.sandboxes.daraja: {exc}") from None
    uvicorn.run(
        create_app(args.data_dir, config), host=args.host, port=args.port, log_level=args.log_level
    )


if __name__ == "__main__":
    main()
