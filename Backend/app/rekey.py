"""`python -m app.rekey`: move every wallet secret onto the newest encryption key.

Rotation: prepend a new key to WALLET_ENCRYPTION_KEYS, deploy, run this, and only
then drop the old key. Safe to rerun; prints counts, never a key or a secret.
"""

from __future__ import annotations

import sys

from pydantic import ValidationError

from app.config import Settings
from app.db.pool import Database
from app.services.custody import SecretBox, UndecryptableSecret, rekey_wallets


def main() -> int:
    try:
        settings = Settings()
    except ValidationError as exc:
        # Only the messages: the raw input of a bad setting may be a key.
        for error in exc.errors():
            print(f"rekey: invalid settings: {error['msg']}", file=sys.stderr)
        return 2
    if not settings.database_url:
        print(
            "rekey: DATABASE_URL is not set; point it at the PayTrace database to re-encrypt.",
            file=sys.stderr,
        )
        return 2
    box = SecretBox.from_settings(settings)
    keys = len(settings.wallet_encryption_keys)
    database = Database(
        settings.database_url,
        max_connections=1,
        connect_timeout_s=settings.db_connect_timeout_s,
        statement_timeout_ms=settings.db_statement_timeout_ms,
    )
    try:
        rewritten = rekey_wallets(database, box)
    except UndecryptableSecret as exc:
        print(f"rekey: {exc}; is an old key missing from WALLET_ENCRYPTION_KEYS?", file=sys.stderr)
        return 1
    finally:
        database.close()
    print(f"rekey: {rewritten} wallet secret(s) re-encrypted under the newest of {keys} key(s).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
