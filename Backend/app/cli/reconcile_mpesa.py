"""`python -m app.cli.reconcile_mpesa --day YYYY-MM-DD`: reconcile one day with M-Pesa, now.

Compares that East Africa Time day's deposits and withdrawals with M-Pesa's statement
(see app/services/mpesa_reconciliation.py), stores the report as the day's next
version (the admin API's `GET /api/v1/admin/reconciliation/mpesa?day=` shows it) and
prints a summary. Without `--day`, yesterday. It reports; it never moves money.

Exit status: 0 PayTrace and M-Pesa agree, 1 differences found, 2 bad or missing
settings or arguments, 3 PostgreSQL or the statement could not be read (nothing was
stored).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime

from pydantic import ValidationError

from app.config import Settings
from app.db.pool import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.money import format_kes
from app.domain.mpesa_reconciliation import Difference
from app.errors import ServiceUnavailable
from app.integrations.mpesa_statement import StatementUnavailable, statement_from_settings
from app.services.mpesa_reconciliation import MpesaReport, reconcile_day, yesterday

OK, DIFFERENCES, BAD_SETTINGS, UNREACHABLE = 0, 1, 2, 3
SHOWN = 20  # differences printed; the stored report lists them all


def _day(text: str) -> date:
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"{text!r} is not a day (YYYY-MM-DD)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="reconcile-mpesa", description=__doc__.split("\n")[0])
    parser.add_argument("--day", type=_day, help="YYYY-MM-DD, East Africa Time (yesterday)")
    args = parser.parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        # Only the messages: the raw input of a bad setting may be a key.
        for error in exc.errors():
            print(f"reconcile-mpesa: invalid settings: {error['msg']}", file=sys.stderr)
        return BAD_SETTINGS
    if not settings.database_url:
        print("reconcile-mpesa: DATABASE_URL is not set.", file=sys.stderr)
        return BAD_SETTINGS
    statement = statement_from_settings(settings)
    if statement is None:
        print(
            "reconcile-mpesa: no statement to reconcile against: set MPESA_STATEMENT_DIR.",
            file=sys.stderr,
        )
        return BAD_SETTINGS
    day = args.day or yesterday(datetime.now(UTC))
    database = Database.from_settings(settings, max_connections=2)
    try:
        report = reconcile_day(UnitOfWork(database), statement, day)
    except ValueError as exc:
        print(f"reconcile-mpesa: {exc}", file=sys.stderr)
        return BAD_SETTINGS
    except (ServiceUnavailable, StatementUnavailable) as exc:
        print(f"reconcile-mpesa: could not reconcile: {exc}", file=sys.stderr)
        return UNREACHABLE
    finally:
        database.close()
    print(summary(report))
    return OK if report.sound else DIFFERENCES


def summary(report: MpesaReport) -> str:
    """A few lines for a terminal or a cron mail (no phone numbers)."""
    comparison, totals = report.comparison, report.comparison.totals
    lines = [
        f"reconcile-mpesa: {report.day} (EAT), report {report.id} version {report.version},"
        f" against {report.source}: {comparison.matched} matched,"
        f" {len(comparison.differences)} difference(s).",
        f"reconcile-mpesa: paid in: M-Pesa KES {format_kes(totals.mpesa_in)},"
        f" PayTrace KES {format_kes(totals.paytrace_in)};"
        f" paid out: M-Pesa KES {format_kes(totals.mpesa_out)},"
        f" PayTrace KES {format_kes(totals.paytrace_out)}.",
    ]
    if report.sound:
        lines.append("reconcile-mpesa: no differences: PayTrace and M-Pesa agree.")
        return "\n".join(lines)
    lines.append("reconcile-mpesa: DIFFERENCES:")
    lines.extend(f"  {_line(d)}" for d in comparison.differences[:SHOWN])
    if len(comparison.differences) > SHOWN:
        lines.append(f"  ... and {len(comparison.differences) - SHOWN} more (see the report)")
    return "\n".join(lines)


def _line(difference: Difference) -> str:
    movement, entry = difference.movement, difference.entry
    what = "deposit" if difference.direction == "in" else "withdrawal"
    if movement:
        amount = format_kes(movement.amount)
        ours = f"PayTrace {what} {movement.reference} ({movement.status}, KES {amount})"
    else:
        ours = f"no PayTrace {what}"
    theirs = (
        f"M-Pesa {entry.receipt} (KES {format_kes(entry.amount)})" if entry else "no M-Pesa entry"
    )
    return f"{difference.kind}: {ours} / {theirs}"


if __name__ == "__main__":
    sys.exit(main())
