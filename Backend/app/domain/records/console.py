"""What the operator console reads: operators, and the dashboard's figures.

Plain records: repositories build them, services return them, the console renders them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

ROLES = ("viewer", "operator", "admin")  # each may do what the ones before it may


@dataclass(frozen=True)
class Operator:
    id: int
    email: str
    role: str  # one of ROLES
    password_hash: str
    totp_secret_ct: str  # a Fernet token: decrypt with the custody SecretBox
    totp_last_step: int | None
    disabled: bool
    failed_attempts: int
    last_failed_at: datetime | None
    last_sign_in_at: datetime | None
    created_at: datetime
    credentials_changed_at: datetime | None = None  # the second factor last replaced

    def __repr__(self) -> str:  # the hashes stay out of reprs and tracebacks
        return f"Operator(id={self.id}, email={self.email!r}, role={self.role!r})"


@dataclass(frozen=True)
class Movement:
    """Value moved in a window: journal transactions that touched a user's wallet."""

    count: int
    value: int  # cents: the sum of the transactions' own amounts


@dataclass(frozen=True)
class DayTotal:
    day: date  # a Nairobi calendar day
    count: int
    value: int  # cents
