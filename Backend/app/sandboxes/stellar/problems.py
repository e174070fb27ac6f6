"""Horizon's problem documents (RFC 7807), as PayTrace's local Stellar network answers
errors: stellar-sdk builds its exceptions (and their `extras`) from these bodies."""

from __future__ import annotations

PROBLEM_JSON = "application/problem+json"
_ERRORS = "https://stellar.org/horizon-errors/"


def problem(kind: str, title: str, status: int, detail: str, extras: dict | None = None) -> dict:
    """A Horizon problem document (what stellar-sdk's exceptions are built from)."""
    body = {"type": _ERRORS + kind, "title": title, "status": status, "detail": detail}
    if extras is not None:
        body["extras"] = extras
    return body


def not_found() -> dict:
    return problem(
        "not_found",
        "Resource Missing",
        404,
        "The resource at the url requested was not found. This usually occurs for one of two"
        " reasons: the url requested is not valid, or no data in our database could be found"
        " with the parameters provided.",
    )


def bad_request(field: str, reason: str) -> dict:
    return problem(
        "bad_request",
        "Bad Request",
        400,
        "The request you sent was invalid in some way.",
        {"invalid_field": field, "reason": reason},
    )


def transaction_failed(envelope_xdr: str, result_xdr: str, result_codes: dict) -> dict:
    return problem(
        "transaction_failed",
        "Transaction Failed",
        400,
        "The transaction failed when submitted to the stellar network. The `extras.result_codes`"
        " field on this response contains further details.",
        {"envelope_xdr": envelope_xdr, "result_xdr": result_xdr, "result_codes": result_codes},
    )


def transaction_malformed(envelope_xdr: str) -> dict:
    return problem(
        "transaction_malformed",
        "Transaction Malformed",
        400,
        "Horizon could not decode the transaction envelope in this request. A transaction"
        " should be an XDR TransactionEnvelope struct encoded using base64.",
        {"envelope_xdr": envelope_xdr},
    )


def timeout() -> dict:
    return problem(
        "timeout",
        "Timeout",
        504,
        "Your request timed out before completing. Please try your request again.",
    )
