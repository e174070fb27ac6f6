"""The issuer-side account kinds are named once in code and must be the schema's own."""

from __future__ import annotations

import re
from pathlib import Path

from app.domain.accounts import ISSUER_KINDS

SCHEMA = Path(__file__).resolve().parents[3] / "schema.sql"


def test_the_kinds_that_may_go_below_zero_are_the_schemas():
    # ledger_accounts_non_negative calls this function (migration 0052); the schema's
    # last definition of it is the one in force.
    found = re.findall(
        r"FUNCTION ledger_account_may_go_negative\(kind TEXT\).*?RETURN kind IN \(([^)]*)\);",
        SCHEMA.read_text(),
        flags=re.DOTALL,
    )
    assert found, "schema.sql no longer says which accounts may go below zero"
    assert tuple(re.findall(r"'([a-z_]+)'", found[-1])) == ISSUER_KINDS
