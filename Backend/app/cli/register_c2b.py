"""`python -m app.cli.register_c2b`: tell M-Pesa where PayTrace validates and confirms
payments into its paybill (Daraja C2B `registerurl`), so that a customer can pay a pay
order from the M-Pesa menu with the order code as account number.

Run once per paybill in production (again after rotating MPESA_CALLBACK_TOKEN: the
token is in the URLs). `make run` does it against the local sandbox by itself.

Exit status: 0 registered, 2 bad or missing settings, 3 Daraja refused or did not answer.
"""

from __future__ import annotations

import sys

from pydantic import ValidationError

from app.config import Settings
from app.integrations.daraja import DarajaClient, DarajaError
from app.services.mpesa.order_payments import register_paybill

OK, BAD_SETTINGS, REFUSED = 0, 2, 3


def register(settings: Settings) -> int:
    """Register the paybill's URLs; prints what was registered (token masked)."""
    token = settings.mpesa_callback_token
    if token is None or not settings.daraja_shortcode:
        print(
            "register-c2b: MPESA_CALLBACK_TOKEN and DARAJA_SHORTCODE are needed.", file=sys.stderr
        )
        return BAD_SETTINGS
    daraja = DarajaClient.from_settings(settings)
    try:
        urls = register_paybill(
            daraja, callback_base=settings.mpesa_callback_base, token=token.get_secret_value()
        )
    except DarajaError as exc:
        print(f"register-c2b: Daraja refused: {exc}", file=sys.stderr)
        return REFUSED
    finally:
        daraja.close()
    for url in urls:
        print(f"register-c2b: {url.rsplit('/', 1)[0]}/***")  # the token masked
    return OK


def main() -> int:
    try:
        settings = Settings()
    except ValidationError as exc:
        for error in exc.errors():  # only the messages: a bad setting's input may be a key
            print(f"register-c2b: invalid settings: {error['msg']}", file=sys.stderr)
        return BAD_SETTINGS
    return register(settings)


if __name__ == "__main__":
    sys.exit(main())
