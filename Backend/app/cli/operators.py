"""`python -m app.cli.operators`: create, disable and enable operators of the console.

    python -m app.cli.operators create --role admin --email ops@example.com

There is no default password: it is asked twice at the terminal (or read from the first
line of stdin with --password-stdin, for provisioning scripts). The new operator's TOTP
provisioning URI (otpauth://...) is printed once, to be scanned into an authenticator
app; it is not shown again (the seed is stored encrypted). Never prints the password.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from app.config import Settings
from app.db.pool import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.records.console import ROLES
from app.errors import PayTraceError
from app.services import operators
from app.services.custody import SecretBox
from app.services.pins import PinHasher

NAME = "operators"


def _arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m app.cli.operators", description="Manage operators of the console."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="create an operator (prints its TOTP URI once)")
    create.add_argument("--email", required=True)
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of stdin instead of asking",
    )
    for command, text in (("disable", "stop an operator signing in"), ("enable", "undo disable")):
        sub = commands.add_parser(command, help=text)
        sub.add_argument("--email", required=True)
    return parser.parse_args(list(argv))


def _password(from_stdin: bool) -> str | None:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password (12+ characters): ")
    if getpass.getpass("Again: ") != first:
        print(f"{NAME}: the passwords differ", file=sys.stderr)
        return None
    return first


def main(argv: Sequence[str] = ()) -> int:
    args = _arguments(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        for error in exc.errors():  # only the messages: a bad setting's input may be a key
            print(f"{NAME}: invalid settings: {error['msg']}", file=sys.stderr)
        return 2
    if not settings.database_url:
        print(f"{NAME}: DATABASE_URL is not set", file=sys.stderr)
        return 2
    database = Database.from_settings(settings, max_connections=1)
    try:
        if args.command == "create":
            password = _password(args.password_stdin)
            if password is None:
                return 1
            created = operators.create(
                UnitOfWork(database),
                PinHasher.from_settings(settings),
                SecretBox.from_settings(settings),
                email=args.email,
                role=args.role,
                password=password,
            )
            print(f"{NAME}: created {created.operator.email} ({created.operator.role}).")
            print(f"{NAME}: add this to the operator's authenticator app; it is shown once:")
            print(created.provisioning_uri)
            return 0
        changed = operators.set_disabled(
            UnitOfWork(database), email=args.email, disabled=args.command == "disable"
        )
        if not changed:
            print(f"{NAME}: no operator has this email", file=sys.stderr)
            return 1
        print(f"{NAME}: {args.command}d {operators.normalised_email(args.email)}.")
        return 0
    except PayTraceError as exc:
        print(f"{NAME}: {exc.detail}", file=sys.stderr)
        return 1
    finally:
        database.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
