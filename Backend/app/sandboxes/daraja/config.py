"""What the sandbox answers to: its app credentials, shortcodes and timings.

The defaults are the sandbox's own development values (never Safaricom's), named in
app/development_values.py: PayTrace's development settings carry the same ones, so
`make run` works with no configuration.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from app import development_values as shared

DEFAULT_CONSUMER_KEY = shared.DARAJA_CONSUMER_KEY
DEFAULT_CONSUMER_SECRET = shared.DARAJA_CONSUMER_SECRET
DEFAULT_SHORTCODE = shared.DARAJA_SHORTCODE
DEFAULT_PASSKEY = shared.DARAJA_PASSKEY
DEFAULT_B2C_SHORTCODE = shared.DARAJA_B2C_SHORTCODE
DEFAULT_INITIATOR_NAME = shared.DARAJA_INITIATOR_NAME
DEFAULT_SECURITY_CREDENTIAL = shared.DARAJA_SECURITY_CREDENTIAL
DEFAULT_CUSTOMER_PIN = "1234"  # not a secret: every sandbox customer's M-PESA PIN
TOKEN_TTL_S = 3599


@dataclass(frozen=True)
class SandboxConfig:
    """The sandbox's credentials and timings; every value has a development default."""

    consumer_key: str = DEFAULT_CONSUMER_KEY
    consumer_secret: str = DEFAULT_CONSUMER_SECRET
    shortcode: str = DEFAULT_SHORTCODE
    passkey: str = DEFAULT_PASSKEY
    b2c_shortcode: str = DEFAULT_B2C_SHORTCODE
    initiator_name: str = DEFAULT_INITIATOR_NAME
    security_credential: str = DEFAULT_SECURITY_CREDENTIAL
    organization_name: str = "PayTrace Sandbox"
    # Seconds between a request and its result (the customer answering the prompt,
    # M-Pesa paying out); the result callback is sent then.
    callback_delay_s: float = 1.0
    # Seconds an STK prompt waiting for the customer (the `ask` scenario) stays on the
    # phone before M-Pesa gives up: then 1037, "DS timeout user cannot be reached".
    prompt_timeout_s: float = 60.0
    # The sandbox customer's M-PESA PIN for answering a prompt; any other is a wrong PIN.
    customer_pin: str = DEFAULT_CUSTOMER_PIN
    # Seconds between the two copies of a duplicated callback.
    duplicate_gap_s: float = 0.2
    token_ttl_s: int = TOKEN_TTL_S
    # How long a C2B validation URL has to answer before the registration's
    # ResponseType decides (Daraja waits about eight seconds).
    c2b_validation_timeout_s: float = 8.0

    def __post_init__(self) -> None:
        if self.callback_delay_s < 0 or self.duplicate_gap_s < 0 or self.prompt_timeout_s <= 0:
            raise ValueError("delays cannot be negative, nor a prompt's timeout zero")
        if self.token_ttl_s <= 0:
            raise ValueError("token_ttl_s must be positive")

    def stk_password(self, timestamp: str) -> str:
        """base64(BusinessShortCode + passkey + Timestamp), as Daraja expects it."""
        raw = f"{self.shortcode}{self.passkey}{timestamp}".encode()
        return base64.b64encode(raw).decode()
