"""Values PayTrace's development settings and its local sandboxes share.

Without Daraja credentials PayTrace talks to its local Daraja sandbox (`make run`
starts it), so both sides must agree on the app credentials and shortcodes. They are
named here, outside both, so that configuration never imports a sandbox. They are the
sandbox's own development values, never Safaricom's, and no secrets: nothing real moves.
"""

from __future__ import annotations

import base64
import hashlib

DARAJA_CONSUMER_KEY = "paytrace-sandbox-consumer-key"
DARAJA_CONSUMER_SECRET = "paytrace-sandbox-consumer-secret"  # noqa: S105 - a development value
DARAJA_SHORTCODE = "174379"
# A 64-hex-digit passkey, like the ones Safaricom issues, derived from a fixed phrase.
DARAJA_PASSKEY = hashlib.sha256(b"PayTrace local Daraja sandbox passkey").hexdigest()
DARAJA_B2C_SHORTCODE = "600000"
DARAJA_INITIATOR_NAME = "paytrace_sandbox_initiator"
# Daraja's SecurityCredential is the initiator password encrypted with Safaricom's
# certificate; PayTrace sends it as an opaque setting, so the sandbox compares strings.
DARAJA_SECURITY_CREDENTIAL = base64.b64encode(b"PayTrace sandbox initiator credential").decode()
