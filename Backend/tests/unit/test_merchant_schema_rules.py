"""The merchant rules are named once in app/domain/merchants.py and must be schema.sql's
own CHECKs and trigger: a change on one side alone fails here."""

from __future__ import annotations

import re
from pathlib import Path

from app.domain import merchants as rules

SCHEMA = (Path(__file__).resolve().parents[3] / "schema.sql").read_text()
MERCHANTS = SCHEMA[SCHEMA.index("CREATE TABLE merchants (") :]


def found(pattern: str) -> tuple[str, ...]:
    match = re.search(pattern, MERCHANTS)
    assert match, f"schema.sql no longer has {pattern!r}"
    return match.groups()


def quoted(listing: str) -> tuple[str, ...]:
    return tuple(re.findall(r"'([a-z_]+)'", listing))


def test_the_till_pattern_is_the_schemas():
    (pattern,) = found(r"till_number ~ '\^([^$']+)\$'")
    assert pattern == rules.TILL_PATTERN.pattern


def test_name_lengths_are_the_schemas():
    assert found(r"length\(display_name\) BETWEEN (\d+) AND (\d+)") == (
        str(rules.DISPLAY_NAME_MIN),
        str(rules.DISPLAY_NAME_MAX),
    )
    assert found(r"length\(legal_name\) BETWEEN (\d+) AND (\d+)") == (
        str(rules.LEGAL_NAME_MIN),
        str(rules.LEGAL_NAME_MAX),
    )


def test_schedules_statuses_and_basis_points_are_the_schemas():
    assert quoted(found(r"payout_schedule IN \(([^)]*)\)")[0]) == rules.PAYOUT_SCHEDULES
    assert quoted(found(r"status IN \(([^)]*)\)")[0]) == rules.STATUSES
    assert found(r"fee_bps BETWEEN 0 AND (\d+)") == (str(rules.BPS_PER_UNIT),)
    assert quoted(found(r"language IN \(([^)]*)\)")[0]) == rules.LANGUAGES


def test_the_daily_payouts_minimum_and_threshold_bounds_are_the_schemas():
    for column in ("payout_keep_cents", "payout_threshold_cents"):
        assert found(rf"{column} BETWEEN 0 AND (\d+)") == (str(rules.MAX_PAYOUT_FLOOR_CENTS),)


def test_key_ids_and_the_live_key_cap_are_the_schemas():
    assert found(r"key_id ~ '\^(\w+?)\[") == (rules.KEY_ID_PREFIX,)
    assert found(r"AND revoked_at IS NULL\) >= (\d+) THEN") == (str(rules.MAX_LIVE_KEYS),)
