"""The kinds of PayTrace error every other one derives from (each with its HTTP
status and code), and those any request can meet: bad input, a rate limit, a
dependency down, an idempotency key reused."""

from __future__ import annotations


class PayTraceError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, detail: str = "", **context: object) -> None:
        super().__init__(detail or self.code)
        self.detail = detail or self.code
        self.context = context

    @property
    def headers(self) -> dict[str, str] | None:
        """HTTP headers the API adds to this error's answer (e.g. Retry-After)."""
        return None

    def body_fields(self) -> dict[str, object]:
        """Fields the API adds to `{"error", "detail"}` (e.g. a lock's end)."""
        return {}


class ValidationFailed(PayTraceError):
    status_code = 422
    code = "validation_failed"


def refused(code: str, detail: str) -> ValidationFailed:
    """A ValidationFailed whose code names the reason (the API renders exc.code): the one
    way every layer says "this input is refused, and why"."""
    error = ValidationFailed(detail, reason=code)
    error.code = code
    return error


class NotFound(PayTraceError):
    status_code = 404
    code = "not_found"


class Conflict(PayTraceError):
    status_code = 409
    code = "conflict"


class Unauthorized(PayTraceError):
    status_code = 401
    code = "unauthorized"


class Forbidden(PayTraceError):
    status_code = 403
    code = "forbidden"


class RateLimited(PayTraceError):
    """Too many requests of one kind from one phone or address; retry after a while."""

    status_code = 429
    code = "rate_limited"

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many requests: try again in {retry_after_s} seconds")
        self.retry_after_s = retry_after_s

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


class ServiceUnavailable(PayTraceError):
    """A dependency (PostgreSQL, Redis) cannot be reached; safe to retry later."""

    status_code = 503
    code = "service_unavailable"


class AuditUnavailable(ServiceUnavailable):
    """An admin request's audit row could not be written: whatever it would have done is
    rolled back with it (app/services/admin_audit.py)."""

    code = "audit_unavailable"


class IdempotencyConflict(Conflict):
    """The idempotency key was already used for a different request."""

    code = "idempotency_key_reused"
