"""Plain records passed between layers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class User:
    id: int
    paytrace_id: str
    phone: str
    full_name: str
    role: str
    language: str
    registration_key: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Wallet:
    id: int
    user_id: int
    currency: str
    stellar_address: str
    stellar_secret_ct: str
    activation_status: str


@dataclass(frozen=True, slots=True)
class PinCredential:
    user_id: int
    pin_hash: str
    failed_attempts: int
    locked_until: datetime | None
    lock_count: int = 0  # locks since the last right PIN or reset
    reset_required: bool = False  # only an operator or an SMS-code reset opens it
