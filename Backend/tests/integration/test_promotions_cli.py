"""`python -m app.cli.promotions`: an operator funds the promotions account once per
reference, adds a cashback rule and a referral programme, ends a rule; bad input is
refused with a message, never a traceback."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.cli import promotions as cli
from app.domain.money import NAIROBI
from tests.support.bills import rows
from tests.support.promotions import promotions_balance
from tests.support.wallets import check_ledger


@pytest.fixture
def environment(settings, monkeypatch):
    monkeypatch.setenv("ENVIRONMENT", "test")
    monkeypatch.setenv("DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    return settings


def test_an_operator_funds_once_per_reference_and_sets_the_rules(
    environment, clean_database, capsys
):
    for _ in range(2):
        assert cli.main(["fund", "--kes", "5000", "--reference", "BANK-1"]) == 0
    assert "already funded: nothing moved" in capsys.readouterr().out
    assert promotions_balance(clean_database) == 5_000_00 and check_ledger(clean_database).sound

    assert cli.main(["cashback-rule", "--name", "KPLC 1%", "--biller", "kplc_prepaid",
                     "--cap-kes", "200", "--tier", "100:35000:100",
                     "--from", "2026-03-01", "--until", "2026-03-31"]) == 0  # fmt: skip
    assert cli.main(["referral-programme", "--bonus-kes", "50", "--budget-kes", "1000",
                     "--from", "2026-03-01"]) == 0  # fmt: skip
    assert rows(clean_database, "SELECT rate_bp, min_amount FROM cashback_tiers") == [(100, 10_000)]
    assert rows(clean_database, "SELECT bonus, budget FROM referral_programs") == [(5_000, 100_000)]
    assert cli.main(["balance"]) == 0
    assert "promotions hold KES 5,000" in capsys.readouterr().out

    [(rule_id,)] = rows(clean_database, "SELECT id FROM cashback_rules")
    assert cli.main(["end-cashback-rule", "--rule", str(rule_id), "--last-day", "2999-01-01"]) == 0
    assert "nothing changed" in capsys.readouterr().out  # it ends 2026-03-31 already
    assert cli.main(["cashback-rule", "--name", "Water", "--category", "water", "--cap-kes", "1",
                     "--tier", "1:2:3", "--from", "2020-01-01"]) == 0  # fmt: skip
    [(open_id,)] = rows(clean_database, "SELECT id FROM cashback_rules WHERE valid_until IS NULL")
    assert cli.main(["end-cashback-rule", "--rule", str(open_id), "--last-day", "2020-06-01"]) == 1
    assert "today or later" in capsys.readouterr().err  # never into the past
    assert cli.main(["end-cashback-rule", "--rule", str(open_id)]) == 0
    today = datetime.now(UTC).astimezone(NAIROBI).date()
    assert rows(
        clean_database, "SELECT valid_until FROM cashback_rules WHERE id = %(i)s", {"i": open_id}
    ) == [(today,)]


@pytest.mark.parametrize(
    "argv",
    [
        ["fund", "--kes", "0", "--reference", "X"],
        ["cashback-rule", "--name", "Nobody", "--biller", "nobody", "--cap-kes", "1",
         "--tier", "1:2:3", "--from", "2026-01-01"],
        ["cashback-rule", "--name", "TV", "--category", "tv", "--cap-kes", "1",
         "--tier", "1:2:20000", "--from", "2026-01-01"],
        ["cashback-rule", "--name", "x", "--category", "tv", "--cap-kes", "1",
         "--tier", "1:2:3", "--from", "2026-01-01"],
        ["end-cashback-rule", "--rule", "404"],
        ["referral-programme", "--bonus-kes", "50", "--budget-kes", "10", "--from", "2026-01-01"],
    ],
)  # fmt: skip
def test_bad_settings_are_refused_with_a_message(environment, clean_database, capsys, argv):
    assert cli.main(argv) == 1
    assert capsys.readouterr().err.startswith("promotions: ")
