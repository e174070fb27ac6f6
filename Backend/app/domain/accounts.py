"""Ledger account kinds, named once (schema.sql's ledger_accounts holds the same list)."""

from __future__ import annotations

# Accounts whose money is the issuer's side on Stellar rather than any account's: the
# M-Pesa float, suspense and the clearing of payments from outside PayTrace. They alone
# may go below zero (schema.sql: ledger_accounts_balance), and a movement touching them
# settles against the issuer (no Stellar party of its own).
ISSUER_KINDS = ("mpesa_float", "suspense", "stellar_clearing")

# The same as an SQL list, for the repositories' statements: ('mpesa_float', ...).
ISSUER_KINDS_SQL = "(" + ", ".join(f"'{kind}'" for kind in ISSUER_KINDS) + ")"
