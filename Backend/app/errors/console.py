"""The operator console: operators, sign-in and its throttles, CSRF and roles."""

from __future__ import annotations

from app.errors.base import Conflict, Forbidden, PayTraceError, RateLimited, Unauthorized


class OperatorExists(Conflict):
    """An operator with this email exists (`app.cli.operators create`)."""

    code = "operator_exists"


class LastAdmin(Conflict):
    """The change would leave the console without an enabled admin."""

    code = "last_admin"


class OwnAccount(Conflict):
    """An admin may not demote or disable themselves: they could lock themselves out."""

    code = "own_account"


class SignInRefused(Unauthorized):
    """A console sign-in with a wrong email, password or TOTP code (which one is not said),
    or a disabled operator."""

    code = "sign_in_refused"

    def __init__(self) -> None:
        super().__init__("wrong email, password or code")


class SignInSlowed(RateLimited):
    """Five or more wrong console sign-ins in a row: the next try waits (no check is made)."""

    code = "sign_in_slowed"


class SignInThrottled(RateLimited):
    """Too many failed console sign-ins from one client address: every try from it waits
    (no check is made), whatever account it names."""

    code = "sign_in_throttled"

    def __init__(self, retry_after_s: int) -> None:
        PayTraceError.__init__(
            self,
            f"too many failed sign-ins from your address: try again in {retry_after_s} seconds",
        )
        self.retry_after_s = retry_after_s


class SignInRequired(Unauthorized):
    """A console page without a live session (none, expired, or signed out)."""

    code = "sign_in_required"


class CsrfRejected(Forbidden):
    """A console form posted without this session's CSRF token."""

    code = "csrf_rejected"


class RoleRefused(Forbidden):
    """The operator's role does not allow this console action."""

    code = "role_refused"
