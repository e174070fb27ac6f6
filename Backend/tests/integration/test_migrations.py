"""Migrations build exactly schema.sql, compared catalog by catalog.

pg_dump text differs between PostgreSQL versions (15 on hosts, 16 embedded), so
the comparison reads the catalogs of two databases on the same server instead.
"""

import hashlib
import re
import secrets
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import psycopg2
import pytest

from app.db.migrate import _BOOKKEEPING as _BOOKKEEPING_SQL
from app.db.migrate import apply_migrations, migration_files
from app.domain.bills import CLEARING_CODES
from app.domain.promotions import PROMOTIONS
from app.services import stellar_order_refunds, transfers
from app.services.mpesa.order_returns import OWED_BACK
from tests.conftest import drop_database_later, make_database
from tests.support.seeds import seeded_rows

SCHEMA_SQL = Path(__file__).resolve().parents[3] / "schema.sql"
# Bookkeeping of the runner itself; schema.sql does not describe it.
EXCLUDED_TABLES = ("schema_migrations",)

CATALOG_QUERIES = {
    "relations": """
        SELECT c.relname, c.relkind::text, c.relpersistence::text
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
          AND c.relname <> ALL(%(excluded)s)
        ORDER BY 1
    """,
    # Column order is part of the schema (SELECT * and COPY see it); rank, not attnum,
    # so that a column dropped by a migration leaves no gap to compare.
    "columns": """
        SELECT c.relname,
               rank() OVER (PARTITION BY c.oid ORDER BY a.attnum),
               a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
               pg_get_expr(d.adbin, d.adrelid), a.attidentity::text, a.attgenerated::text,
               co.collname
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        LEFT JOIN pg_collation co ON co.oid = a.attcollation AND a.attcollation <> 0
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
          AND a.attnum > 0 AND NOT a.attisdropped
          AND c.relname <> ALL(%(excluded)s)
        ORDER BY 1, 2
    """,
    "constraints": """
        SELECT c.relname, con.conname, con.contype::text, pg_get_constraintdef(con.oid),
               con.condeferrable, con.condeferred
        FROM pg_constraint con
        JOIN pg_class c ON c.oid = con.conrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relname <> ALL(%(excluded)s)
        ORDER BY 1, 2
    """,
    "indexes": """
        SELECT tablename, indexname, indexdef FROM pg_indexes
        WHERE schemaname = 'public' AND tablename <> ALL(%(excluded)s)
        ORDER BY 1, 2
    """,
    "sequences": """
        SELECT s.sequencename, s.data_type::text, s.start_value, s.min_value, s.max_value,
               s.increment_by, s.cycle, s.cache_size,
               (SELECT dc.relname || '.' || a.attname
                FROM pg_depend dep
                JOIN pg_class dc ON dc.oid = dep.refobjid
                JOIN pg_attribute a ON a.attrelid = dep.refobjid AND a.attnum = dep.refobjsubid
                WHERE dep.objid = format('%%I.%%I', s.schemaname, s.sequencename)::regclass
                  AND dep.classid = 'pg_class'::regclass AND dep.deptype IN ('a', 'i'))
        FROM pg_sequences s
        WHERE s.schemaname = 'public'
        ORDER BY 1
    """,
    "functions": """
        SELECT p.proname, pg_get_function_identity_arguments(p.oid), p.prokind::text,
               CASE WHEN p.prokind IN ('f', 'p') THEN pg_get_functiondef(p.oid) END
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public'
        ORDER BY 1, 2
    """,
    "triggers": """
        SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid), t.tgenabled::text
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND NOT t.tgisinternal
        ORDER BY 1, 2
    """,
    "views": """
        SELECT viewname, definition FROM pg_views WHERE schemaname = 'public' ORDER BY 1
    """,
    "types": """
        SELECT t.typname, t.typtype::text,
               array_to_string(ARRAY(SELECT e.enumlabel FROM pg_enum e
                                     WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder), ','),
               pg_catalog.format_type(t.typbasetype, t.typtypmod)
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd', 'c', 'r')
          AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind <> 'c')
        ORDER BY 1
    """,
    "extensions": "SELECT extname FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY 1",
    "policies": """
        SELECT tablename, policyname, permissive, roles::text, cmd, qual, with_check
        FROM pg_policies WHERE schemaname = 'public' ORDER BY 1, 2
    """,
}

# Object names are already compared; the one database-specific part of the text
# that may differ is the schema qualifier's quoting and the search path.
_SCHEMA_PREFIX = re.compile(r'(?<![\w"])"?public"?\.')


def _normalise(value: object) -> object:
    return _SCHEMA_PREFIX.sub("", value) if isinstance(value, str) else value


def catalog(dsn: str) -> dict[str, list[tuple]]:
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            snapshot = {}
            for name, sql in CATALOG_QUERIES.items():
                cur.execute(sql, {"excluded": list(EXCLUDED_TABLES)})
                snapshot[name] = [tuple(_normalise(v) for v in row) for row in cur.fetchall()]
            return snapshot
    finally:
        conn.close()


def run_sql(dsn: str, sql: str) -> None:
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
        conn.commit()
    finally:
        conn.close()


@pytest.fixture
def fresh_database(pg_admin_url) -> Iterator:
    """A factory of empty databases, all dropped when the run ends."""
    names: list[str] = []

    def make() -> str:
        names.append(f"paytrace_mig_{secrets.token_hex(4)}")
        return make_database(pg_admin_url, names[-1])

    yield make
    for name in names:
        drop_database_later(pg_admin_url, name)


def assert_same_catalog(left: dict, right: dict) -> None:
    for part in CATALOG_QUERIES:
        only_left = sorted(set(left[part]) - set(right[part]), key=repr)
        only_right = sorted(set(right[part]) - set(left[part]), key=repr)
        assert (only_left, only_right) == ([], []), f"{part}: migrations vs schema.sql differ"
        assert left[part] == right[part], f"{part}: same objects, different order"


def test_migrations_build_exactly_schema_sql(fresh_database):
    migrated, from_schema = fresh_database(), fresh_database()
    apply_migrations(migrated)
    run_sql(from_schema, SCHEMA_SQL.read_text())

    expected = catalog(from_schema)
    assert {"users", "wallets", "user_credentials", "outbox"} <= {
        row[0] for row in expected["relations"]
    }
    assert_same_catalog(catalog(migrated), expected)


def test_the_comparison_notices_a_schema_that_drifted(fresh_database):
    migrated, from_schema = fresh_database(), fresh_database()
    apply_migrations(migrated)
    run_sql(from_schema, SCHEMA_SQL.read_text())
    run_sql(from_schema, "ALTER TABLE users ALTER COLUMN full_name DROP NOT NULL")

    with pytest.raises(AssertionError, match="columns"):
        assert_same_catalog(catalog(migrated), catalog(from_schema))


def test_applying_migrations_again_changes_nothing(fresh_database):
    dsn = fresh_database()
    assert apply_migrations(dsn)  # the first run applies them all
    before = catalog(dsn)

    assert apply_migrations(dsn) == []
    assert catalog(dsn) == before


def test_an_applied_migration_that_changed_is_refused(fresh_database):
    dsn = fresh_database()
    apply_migrations(dsn)
    # As if 0001's file had been edited after it ran: its recorded checksum no longer matches.
    run_sql(dsn, "UPDATE schema_migrations SET checksum = 'edited' WHERE version = '0001'")

    with pytest.raises(RuntimeError, match="changed after it was applied"):
        apply_migrations(dsn)


# ---- reference data: what the ledger reads as rules ---------------------------------

SEED_QUERIES = {
    "kyc_tiers": "SELECT * FROM kyc_tiers ORDER BY tier",
    "fee_bands": "SELECT * FROM fee_bands ORDER BY kind, min_amount",
    "bill_account_rules": "SELECT * FROM bill_account_rules ORDER BY name",
    "billers": "SELECT * FROM billers ORDER BY id",
    "statutory_rules": "SELECT * FROM statutory_rules ORDER BY item, effective_from",
    "paye_bands": "SELECT * FROM paye_bands ORDER BY effective_from, band",
    "system_accounts": """
        SELECT kind, code, currency, balance FROM ledger_accounts
        WHERE user_id IS NULL ORDER BY code
    """,
}


def seed_data(dsn: str) -> dict[str, list[tuple]]:
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            seeded = {}
            for name, sql in SEED_QUERIES.items():
                cur.execute(sql)
                seeded[name] = cur.fetchall()
            return seeded
    finally:
        conn.close()


def test_migrations_seed_the_same_tiers_fees_and_system_accounts_as_schema_sql(fresh_database):
    migrated, from_schema = fresh_database(), fresh_database()
    apply_migrations(migrated)
    run_sql(from_schema, SCHEMA_SQL.read_text())

    expected = seed_data(from_schema)
    assert [row[1] for row in expected["kyc_tiers"]] == ["basic", "verified", "business"]
    assert {kind for kind, *_ in expected["fee_bands"]} == {
        "transfer",
        "withdrawal",
        "bill",
        "airtime",
    }
    assert len(expected["billers"]) == len(seeded_rows("billers")) > 0
    assert len(expected["statutory_rules"]) == len(seeded_rows("statutory_rules")) > 0
    assert len(expected["paye_bands"]) == len(seeded_rows("paye_bands")) > 0
    assert sorted((kind, code) for kind, code, *_ in expected["system_accounts"]) == sorted(
        [("fees", f"fees:{shard}") for shard in range(transfers.FEE_SHARDS)]
        + [("mpesa_hold", f"mpesa_hold:{shard}") for shard in range(transfers.FEE_SHARDS)]
        + [("mpesa_float", "mpesa_float"), ("suspense", "suspense")]
        + [("stellar_clearing", "stellar_clearing")]
        + [("bill_hold", f"bill_hold:{shard}") for shard in range(transfers.FEE_SHARDS)]
        + [("bill_clearing", code) for code in CLEARING_CODES.values()]
        + [("mpesa_hold", OWED_BACK)]
        + [("stellar_hold", stellar_order_refunds.HOLD)]
        + [("promotions", PROMOTIONS)]
    )
    assert seed_data(migrated) == expected

    # The comparison sees a changed fee.
    run_sql(from_schema, "UPDATE fee_bands SET fee = fee + 1 WHERE min_amount = 1")
    assert seed_data(migrated)["fee_bands"] != seed_data(from_schema)["fee_bands"]


def fee_band_problems(bands: list[tuple[str, int, int, int]]) -> list[str]:
    """Gaps and overlaps in (kind, min_amount, max_amount, fee) rows sorted by kind, min."""
    problems = []
    for kind in dict.fromkeys(kind for kind, *_ in bands):
        ranges = [(low, high) for k, low, high, _ in bands if k == kind]
        if ranges[0][0] != 1:
            problems.append(f"{kind}: starts at {ranges[0][0]}, not 1 cent")
        for (_, high), (low, _) in pairwise(ranges):
            if low != high + 1:
                word = "gap" if low > high + 1 else "overlap"
                problems.append(f"{kind}: {word} between {high} and {low}")
    return problems


def test_fee_bands_cover_every_cent_once_from_1_to_their_maximum(database_url):
    # The fee lookup (amount BETWEEN min_amount AND max_amount) needs exactly one band
    # per amount: a gap refuses a valid transfer, an overlap makes its fee arbitrary.
    assert fee_band_problems([("t", 1, 10, 0), ("t", 12, 20, 5), ("t", 20, 30, 9)]) == [
        "t: gap between 10 and 12",
        "t: overlap between 20 and 20",
    ]
    seeded = seed_data(database_url)["fee_bands"]

    assert seeded and fee_band_problems(seeded) == []


def test_every_amount_a_tier_lets_through_has_a_transfer_fee(database_url):
    seeded = seed_data(database_url)
    largest_allowed = max(per_transaction for _, _, per_transaction, *_ in seeded["kyc_tiers"])
    top_of_bands = max(high for kind, _, high, _ in seeded["fee_bands"] if kind == "transfer")

    assert top_of_bands >= largest_allowed


def _apply_before(cur, version: str) -> None:
    """What the runner does, up to the migration before `version`."""
    cur.execute(_BOOKKEEPING_SQL)
    for path in migration_files():
        if path.name[:4] >= version:
            break
        sql = path.read_text()
        cur.execute(sql)
        cur.execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
            (path.name[:4], path.name, hashlib.sha256(sql.encode()).hexdigest()),
        )


def test_0059_gives_every_campaign_it_finds_its_one_escrow_as_shard_0(fresh_database):
    """A database at 0058 with a campaign in it (its one escrow account, as campaigns
    were opened then): 0059 applied by the runner makes that account its shard 0, and
    the campaign reads what the account holds."""
    dsn = fresh_database()
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            _apply_before(cur, "0059")
            cur.execute(
                "INSERT INTO users (paytrace_id, phone, full_name, registration_key,"
                " terms_accepted_at) VALUES ('PT00000001', '+254711000001', 'Wanjiru Kamau',"
                " 'r1', now()) RETURNING id"
            )
            [organiser] = cur.fetchone()
            cur.execute(  # 0058's campaign: one escrow account
                "WITH account AS (INSERT INTO ledger_accounts (kind, code)"
                " VALUES ('campaign', 'campaign:123456') RETURNING id)"
                " INSERT INTO campaigns (code, title, description, target_amount, organiser_id,"
                " account_id, creation_key, request_hash)"
                " SELECT '123456', 'School fees', '', 100000, %s, account.id, 'k', 'h'"
                " FROM account RETURNING id, account_id",
                (organiser,),
            )
            campaign, escrow = cur.fetchone()
        conn.commit()
    finally:
        conn.close()

    assert apply_migrations(dsn)[0].startswith("0059_")  # and those after it
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT campaign_id, shard, account_id FROM campaign_escrows")
        assert cur.fetchall() == [(campaign, 0, escrow)]
    conn.close()


def test_0062_gives_every_merchant_it_finds_eight_accounts_its_own_as_shard_0(fresh_database):
    """A database at 0061 with two merchants in it (one account each, as merchants were
    onboarded then): 0062 applied by the runner makes each one's account its shard 0 and
    opens shards 1 to 7 for it, empty, coded by its till."""
    dsn = fresh_database()
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            _apply_before(cur, "0062")
            found = {}
            for till in ("512345", "5123456"):
                cur.execute(  # 0061's merchant: one account
                    "WITH account AS (INSERT INTO ledger_accounts (kind, code)"
                    " VALUES ('merchant', 'merchant:' || %(till)s) RETURNING id)"
                    " INSERT INTO merchants (legal_name, display_name, till_number,"
                    " contact_phone, payout_phone, fee_bps, fee_min_cents, fee_max_cents,"
                    " account_id, request_hash)"
                    " SELECT 'Duka Ltd', 'DUKA', %(till)s, '+254711000101', '+254711000102',"
                    " 50, 0, 20000, account.id, 'h' FROM account RETURNING id, account_id",
                    {"till": till},
                )
                found[till] = cur.fetchone()
        conn.commit()
    finally:
        conn.close()

    assert apply_migrations(dsn)[0].startswith("0062_")  # and those after it
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        for till, (merchant, account) in found.items():
            cur.execute(
                "SELECT m.shard, m.account_id, a.kind, a.code, a.balance"
                " FROM merchant_accounts m JOIN ledger_accounts a ON a.id = m.account_id"
                " WHERE m.merchant_id = %s ORDER BY m.shard",
                (merchant,),
            )
            shards = cur.fetchall()
            assert shards[0] == (0, account, "merchant", f"merchant:{till}", 0)
            assert [row[0] for row in shards] == list(range(8))
            assert [(row[2], row[3], row[4]) for row in shards[1:]] == [
                ("merchant", f"merchant:{till}:{n}", 0) for n in range(1, 8)
            ]
    conn.close()
