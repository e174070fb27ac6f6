"""M-Pesa's account statement for a day: the other side of M-Pesa reconciliation.

Daraja has no statement API. In production an operator downloads the day's statement
of PayTrace's M-Pesa organisation account from Safaricom's M-Pesa org portal as CSV
and drops it in `MPESA_STATEMENT_DIR` as `YYYY-MM-DD.csv` (the East Africa Time day):
`StatementFiles` reads it. In development and tests the local Daraja sandbox serves
the same rows, from what it actually paid and was paid, at
`GET /sandbox/statement?date=YYYY-MM-DD`: `SandboxStatement` reads them over HTTP.

Both hand each row to one parser, `entry_from_row`, which reads the org portal's
column names: `Receipt No.`, `Completion Time` (East Africa Time), `Transaction
Status`, `Paid In`, `Withdrawn` (shillings, a withdrawal may be negative), `Reason
Type`, `Other Party Info`, `A/C No.` (the STK AccountReference or the B2C Occasion:
PayTrace's reference) and, when the export has it, `Conversation ID`. Only completed
rows are entries; charge rows (`Reason Type` naming a charge) are M-Pesa's fees to
PayTrace, not customers' money, and are skipped.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Protocol

import httpx

from app.config import Settings
from app.domain.mpesa_reconciliation import EAT, StatementEntry

_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%d-%m-%Y %H:%M:%S", "%d/%m/%Y %H:%M:%S", "%Y%m%d%H%M%S")
_MSISDN = re.compile(r"^\s*(\d{6,15})")
# Shillings as the portal writes them: an optional minus, digits (thousands may be
# comma-separated), at most two decimals. Nothing else (no exponent, NaN, Infinity).
_SHILLINGS = re.compile(r"^-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d{1,2})?$")
MAX_CENTS = 10**15  # far above any M-Pesa transaction, far below BIGINT
MAX_FILE_BYTES = 64 * 1024 * 1024  # a day's statement far below this; refuse anything larger


class StatementUnavailable(Exception):
    """The day's statement cannot be read now (not downloaded yet, unreachable,
    unreadable): retry later. Nothing is reconciled without it."""


class MpesaStatement(Protocol):
    """Where the day's M-Pesa account statement comes from."""

    name: str  # recorded with each report: which source it compared against

    def entries(self, day: date) -> list[StatementEntry] | None:
        """The day's completed entries (East Africa Time); None when there is no
        statement for that day yet. Raises StatementUnavailable (with the reason) when
        it exists but cannot be read, or the source cannot be asked."""
        ...


def _cents(text: str, row: str) -> int:
    text = str(text).strip()
    if not text:
        return 0
    if len(text) > 30 or not _SHILLINGS.match(text):
        raise StatementUnavailable(f"{row}: amount {text[:30]!r} is not an amount in shillings")
    cents = int(abs(Decimal(text.replace(",", ""))) * 100)
    if cents > MAX_CENTS:
        raise StatementUnavailable(f"{row}: amount {text!r} is out of range")
    return cents


def _time(text: str, row: str) -> datetime:
    for layout in _TIME_FORMATS:
        try:
            return datetime.strptime(str(text).strip(), layout).replace(tzinfo=EAT)
        except ValueError:
            continue
    raise StatementUnavailable(f"{row}: completion time {text!r} is not a time")


def entry_from_row(row: Mapping[str, object], where: str = "row") -> StatementEntry | None:
    """One statement row as an entry; None for a row that is no customer's completed
    payment (pending, failed, a charge, no amount). Raises StatementUnavailable for a
    row that cannot be read: a statement is all or nothing."""

    def text(name: str) -> str:
        value = row.get(name)
        return "" if value is None else str(value).strip()

    if text("Transaction Status").lower() != "completed":
        return None
    if "charge" in text("Reason Type").lower():
        return None
    receipt = text("Receipt No.")
    if not receipt:
        raise StatementUnavailable(f"{where}: no receipt number")
    paid_in, withdrawn = _cents(text("Paid In"), where), _cents(text("Withdrawn"), where)
    if paid_in and withdrawn:
        raise StatementUnavailable(f"{where}: both paid in and withdrawn")
    if not (paid_in or withdrawn):
        return None
    party = _MSISDN.match(text("Other Party Info"))
    return StatementEntry(
        receipt=receipt,
        completed_at=_time(text("Completion Time"), where),
        amount=paid_in or withdrawn,
        direction="in" if paid_in else "out",
        counterparty=party.group(1) if party else "",
        reference=text("A/C No."),
        conversation_id=text("Conversation ID"),
    )


def _entries(rows: list[Mapping[str, object]], source: str) -> list[StatementEntry]:
    found = (entry_from_row(row, f"{source} row {n}") for n, row in enumerate(rows, 1))
    return [entry for entry in found if entry is not None]


def statement_from_settings(settings: Settings) -> MpesaStatement | None:
    """The statement files when MPESA_STATEMENT_DIR is set, else the local sandbox's
    statement when the sandbox stands in for Daraja; None: nothing to reconcile with."""
    if settings.mpesa_statement_dir:
        return StatementFiles(settings.mpesa_statement_dir)
    if settings.daraja_sandbox_enabled and settings.daraja_base_url:
        return SandboxStatement(settings.daraja_base_url, timeout_s=settings.daraja_timeout_s)
    return None


class StatementFiles:
    """Production: `<dir>/YYYY-MM-DD.csv`, the org portal's CSV export of that day."""

    name = "statement_file"

    def __init__(self, directory: Path | str) -> None:
        self._directory = Path(directory)

    def path(self, day: date) -> Path:
        return self._directory / f"{day.isoformat()}.csv"

    def entries(self, day: date) -> list[StatementEntry] | None:
        path = self.path(day)
        try:
            if not path.is_file():
                return None
            if path.stat().st_size > MAX_FILE_BYTES:
                raise StatementUnavailable(f"{path.name} is larger than {MAX_FILE_BYTES} bytes")
            with path.open(newline="", encoding="utf-8-sig") as handle:
                rows = list(csv.DictReader(handle))
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise StatementUnavailable(f"{path.name}: {type(exc).__name__}") from None
        return _entries(rows, path.name)


class SandboxStatement:
    """Development and tests: the local Daraja sandbox's statement over HTTP."""

    name = "daraja_sandbox"

    def __init__(self, base_url: str, *, timeout_s: float = 15.0) -> None:
        self._url = base_url.rstrip("/") + "/sandbox/statement"
        self._timeout_s = timeout_s

    def entries(self, day: date) -> list[StatementEntry] | None:
        try:
            answer = httpx.get(self._url, params={"date": day.isoformat()}, timeout=self._timeout_s)
            answer.raise_for_status()
            rows = answer.json()["entries"]
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            raise StatementUnavailable(f"the sandbox's statement: {type(exc).__name__}") from None
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise StatementUnavailable("the sandbox's statement: entries is not a list of rows")
        return _entries(rows, "sandbox statement")
