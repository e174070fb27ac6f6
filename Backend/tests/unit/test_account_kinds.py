"""The issuer-side account kinds are named once in code and must be the schema's own."""

from __future__ import annotations

import re
from pathlib import Path

from app.domain.accounts import ISSUER_KINDS

SCHEMA = Path(__file__).resolve().parents[3] / "schema.sql"


def test_the_kinds_that_may_go_below_zero_are_the_schemas():
    found = re.search(r"CHECK \(balance >= 0 OR kind IN \(([^)]*)\)\)", SCHEMA.read_text())
    assert found, "schema.sql no longer says which accounts may go below zero"
    assert tuple(re.findall(r"'([a-z_]+)'", found.group(1))) == ISSUER_KINDS
