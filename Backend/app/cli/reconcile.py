"""`python -m app.cli.reconcile`: reconcile the ledger against Stellar once, now.

Compares every active wallet and the treasury with their Stellar accounts (see
app/services/reconciliation.py), stores the report (the admin API's
`GET /api/v1/admin/reconciliation` shows the latest) and prints a summary.

Exit status: 0 the books agree, 1 drift found, 2 bad or missing settings, 3 PostgreSQL
or Horizon could not be reached (nothing was stored).
"""

from __future__ import annotations

import sys

from pydantic import ValidationError

from app.config import Settings
from app.db.pool import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.money import format_kes
from app.errors import ServiceUnavailable
from app.integrations.stellar import Horizon, StellarUnavailable
from app.services.custody import SecretBox, SystemAccounts, UndecryptableSecret
from app.services.reconciliation import PartyLine, Report, reconcile

OK, DRIFT, BAD_SETTINGS, UNREACHABLE = 0, 1, 2, 3
SHOWN = 20  # drifting accounts printed; the stored report lists more


def main() -> int:
    try:
        settings = Settings()
    except ValidationError as exc:
        # Only the messages: the raw input of a bad setting may be a key.
        for error in exc.errors():
            print(f"reconcile: invalid settings: {error['msg']}", file=sys.stderr)
        return BAD_SETTINGS
    if not settings.database_url:
        print(
            "reconcile: DATABASE_URL is not set; point it at the PayTrace database.",
            file=sys.stderr,
        )
        return BAD_SETTINGS
    if not settings.stellar_horizon_url:
        print(
            "reconcile: STELLAR_HORIZON_URL is not set (custody is off): nothing to reconcile"
            " against.",
            file=sys.stderr,
        )
        return BAD_SETTINGS
    try:
        system = SystemAccounts.from_settings(settings, SecretBox.from_settings(settings))
    except (ValueError, UndecryptableSecret) as exc:
        print(f"reconcile: PayTrace's Stellar accounts: {exc}", file=sys.stderr)
        return BAD_SETTINGS
    database = Database.from_settings(settings, max_connections=2)
    try:
        report = reconcile(UnitOfWork(database), Horizon.from_settings(settings), system)
    except (ServiceUnavailable, StellarUnavailable) as exc:
        print(f"reconcile: could not reconcile: {type(exc).__name__}: {exc}", file=sys.stderr)
        return UNREACHABLE
    finally:
        database.close()
    print(summary(report))
    return OK if report.sound else DRIFT


def summary(report: Report) -> str:
    """A few lines for a terminal or a cron mail."""
    wallets = report.accounts - 1
    lines = [
        f"reconcile: report {report.id}: {report.accounts} account(s) checked"
        f" ({wallets} active wallet(s) and the treasury)."
    ]
    if report.explained_count:
        lines.append(
            f"reconcile: {report.explained_count} account(s) differ only by movements not yet"
            " settled on Stellar (explained, not drift)."
        )
    if report.inactive_wallets:
        lines.append(
            f"reconcile: {report.inactive_wallets} wallet(s) not yet active on Stellar,"
            f" {report.awaiting_activation_count} of them holding money in the ledger"
            f" (KES {format_kes(report.totals.awaiting_activation_balance)})."
        )
    if report.sound:
        lines.append("reconcile: no drift: the ledger and Stellar agree.")
        return "\n".join(lines)
    lines.append(f"reconcile: DRIFT on {report.drift_count} account(s):")
    lines.extend(f"  {_drift(line)}" for line in report.drifting[:SHOWN])
    if report.drift_count > SHOWN:
        lines.append(f"  ... and {report.drift_count - SHOWN} more (see the stored report)")
    return "\n".join(lines)


def _drift(line: PartyLine) -> str:
    who = "treasury" if line.kind == "treasury" else f"wallet {line.party}"
    actual = "none" if line.actual_on_chain is None else f"KES {format_kes(line.actual_on_chain)}"
    sign = "+" if line.drift > 0 else ""
    text = (
        f"{who} {line.address}: on-chain {actual},"
        f" expected KES {format_kes(line.expected_on_chain)}"
        f" (ledger KES {format_kes(line.ledger_balance)},"
        f" unsettled KES {format_kes(line.unsettled_effect)}):"
        f" drift {sign}KES {format_kes(line.drift)}"
    )
    return f"{text} [{line.problem}]" if line.problem else text


if __name__ == "__main__":
    sys.exit(main())
