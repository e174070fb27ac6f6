"""Daraja's error answers: `{"requestId", "errorCode", "errorMessage"}`.

The codes are Daraja's own. Their first part is not always the HTTP status Daraja
answers with (an expired token is `404.001.03` on a 401), and "Wrong credentials"
comes back as a 500: a client must read `errorCode`, not only the status.
"""

from __future__ import annotations

from app.sandboxes.daraja.identifiers import request_id


class DarajaError(Exception):
    """A request Daraja refuses synchronously."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict:
        return {"requestId": request_id(), "errorCode": self.code, "errorMessage": self.message}


def invalid(field: str) -> DarajaError:
    """A missing or malformed request field (`400.002.02`)."""
    return DarajaError(400, "400.002.02", f"Bad Request - Invalid {field}")


def invalid_authentication() -> DarajaError:
    """OAuth: no Basic credentials, or not these."""
    return DarajaError(400, "400.008.01", "Invalid Authentication passed")


def invalid_grant_type() -> DarajaError:
    return DarajaError(400, "400.008.02", "Invalid grant type passed")


def invalid_auth_header() -> DarajaError:
    """An API call without `Authorization: Bearer <token>`."""
    return DarajaError(401, "404.001.04", "Invalid Authentication Header")


def invalid_access_token() -> DarajaError:
    """A bearer token that was never issued or has expired."""
    return DarajaError(401, "404.001.03", "Invalid Access Token")


def wrong_credentials() -> DarajaError:
    """An STK Password that is not base64(shortcode + passkey + Timestamp)."""
    return DarajaError(500, "500.001.1001", "Wrong credentials")


def being_processed() -> DarajaError:
    """STK query before the customer has answered (or the prompt has timed out)."""
    return DarajaError(500, "500.001.1001", "The transaction is being processed")


def duplicate_originator_conversation_id() -> DarajaError:
    return DarajaError(400, "400.002.02", "Bad Request - Duplicate OriginatorConversationID")


def not_found() -> DarajaError:
    return DarajaError(404, "404.002.01", "Resource not found")


def method_not_allowed() -> DarajaError:
    return DarajaError(405, "405.001.01", "Method Not Allowed")
