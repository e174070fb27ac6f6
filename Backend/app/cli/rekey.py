"""`python -m app.cli.rekey` (`make -C Backend rotate-keys`): every custodied secret onto
the newest encryption key, while PayTrace runs.

Rotation: prepend a new key to WALLET_ENCRYPTION_KEYS and deploy it to every process,
run this, put the re-encrypted tokens of PayTrace's own Stellar secrets into the
secret store (`--print-system-tokens` prints them), run it again until it reports
nothing under an older key, and only then drop the old key.

Wallet secrets, merchant API key secrets, webhook endpoint secrets and the console
operators' TOTP seeds (the database)
are re-encrypted in place, batch by batch, each batch a short transaction, so signing
and registration carry on meanwhile. PayTrace's own secrets live in settings, which
this command cannot write: it reports which are under an older key and, on request,
prints their new tokens (ciphertexts). It never prints a key, a seed or a merchant's
secret. Safe to rerun.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from app.config import Settings
from app.db.pool import Database
from app.services.custody import (
    SecretBox,
    SystemSecret,
    UndecryptableSecret,
    rekey_wallets,
    rotate_system_secrets,
)
from app.services.merchant_keys import rekey_secrets as rekey_merchant_keys
from app.services.operators import rekey_secrets as rekey_operator_secrets
from app.services.webhooks import rekey_secrets as rekey_webhook_secrets

NAME = "rotate-keys"


def _arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m app.cli.rekey",
        description="Re-encrypt every custodied secret under the newest wallet key.",
    )
    parser.add_argument(
        "--print-system-tokens",
        action="store_true",
        help="print NAME=token for each of PayTrace's own Stellar secrets under an older key:"
        " the same seed encrypted under the newest key, for the secret store",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=500,
        help="wallets re-encrypted per transaction (default 500)",
    )
    args = parser.parse_args(list(argv))
    if args.batch_size < 1:
        parser.error("--batch-size must be positive")
    return args


def _say(message: str) -> None:
    print(f"{NAME}: {message}")


def _report(system: list[SystemSecret], print_tokens: bool) -> None:
    for secret in system:
        if secret.state == "current":
            _say(f"{secret.setting} is under the newest key.")
        elif secret.state == "unset":
            _say(f"{secret.setting} is not set.")
        else:
            hint = "" if print_tokens else " (--print-system-tokens prints it)"
            _say(
                f"{secret.setting} is under an older key: put its re-encrypted token in the"
                f" secret store{hint}."
            )
    if print_tokens:
        for secret in system:
            if secret.rotated is not None:
                print(f"{secret.setting}={secret.rotated}")


def main(argv: Sequence[str] = ()) -> int:
    args = _arguments(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        # Only the messages: the raw input of a bad setting may be a key.
        for error in exc.errors():
            print(f"{NAME}: invalid settings: {error['msg']}", file=sys.stderr)
        return 2
    if not settings.database_url:
        print(
            f"{NAME}: DATABASE_URL is not set; point it at the PayTrace database to re-encrypt.",
            file=sys.stderr,
        )
        return 2
    box = SecretBox.from_settings(settings)
    keys = len(settings.wallet_encryption_keys)
    try:
        # Settings first: a secret no key opens means a key is missing from the list,
        # which is better said before the database is touched.
        system = rotate_system_secrets(settings, box)
    except UndecryptableSecret as exc:
        print(f"{NAME}: {exc}; is an old key missing from WALLET_ENCRYPTION_KEYS?", file=sys.stderr)
        return 1
    database = Database.from_settings(settings, max_connections=1)
    try:
        rewritten = rekey_wallets(database, box, batch_size=args.batch_size)
        merchant_keys = rekey_merchant_keys(database, box, batch_size=args.batch_size)
        webhook_secrets = rekey_webhook_secrets(database, box, batch_size=args.batch_size)
        operator_secrets = rekey_operator_secrets(database, box, batch_size=args.batch_size)
    except UndecryptableSecret as exc:
        print(f"{NAME}: {exc}; is an old key missing from WALLET_ENCRYPTION_KEYS?", file=sys.stderr)
        return 1
    finally:
        database.close()
    _say(f"{rewritten} wallet secret(s) re-encrypted under the newest of {keys} key(s).")
    _say(f"{merchant_keys} merchant API key secret(s) re-encrypted under the newest key.")
    _say(f"{webhook_secrets} webhook endpoint secret(s) re-encrypted under the newest key.")
    _say(f"{operator_secrets} operator TOTP seed(s) re-encrypted under the newest key.")
    _report(system, args.print_system_tokens)
    stale = [secret.setting for secret in system if secret.state == "older_key"]
    if stale:
        _say(
            f"keep the older key(s) until {', '.join(stale)} hold(s) the re-encrypted token"
            " and a rerun reports every secret under the newest key."
        )
    elif keys > 1:
        _say(
            "nothing is left under an older key: the older key(s) can be dropped, provided"
            " every PayTrace process already had the newest key first while this ran."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
