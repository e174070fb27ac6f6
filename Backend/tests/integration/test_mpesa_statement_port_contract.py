"""The MpesaStatement port's contract: FakeStatement answers as both real sources do,
StatementFiles (the org portal's CSV, production) and SandboxStatement (the local
Daraja sandbox over HTTP), each scenario run on every side by tests/support/contract.py.

Each side is arranged its own way: the fake is given entries, the files side gets
the portal's CSV rows, the sandbox is paid and pays through Daraja's own API. The
sandbox has a statement for every day, so "no statement yet" holds the fake to the
files only; the same for a moment the sandbox cannot choose (just after midnight).
"""

from __future__ import annotations

import csv
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from app.domain.mpesa_reconciliation import EAT, StatementEntry, eat_day
from app.integrations.mpesa_statement import (
    MpesaStatement,
    SandboxStatement,
    StatementFiles,
    StatementUnavailable,
)
from app.integrations.mpesa_statement_fake import FakeStatement
from tests.conftest import free_port
from tests.support.contract import observe, outcome
from tests.support.daraja import DarajaClient

SETTLED_S = 0.4  # past the sandbox's 0.1 s callback delay: the payments have completed
CALLBACK = "http://127.0.0.1:9/callback"
COLUMNS = [
    "Receipt No.", "Completion Time", "Initiation Time", "Details", "Transaction Status",
    "Paid In", "Withdrawn", "Balance", "Reason Type", "Other Party Info", "A/C No.",
    "Conversation ID",
]  # fmt: skip


@dataclass
class Side:
    port: MpesaStatement
    phone: str
    # (direction "in" | "out", whole shillings, PayTrace's reference, completed at or now)
    pays: Callable[..., None]
    settle: Callable[[], None] = lambda: None  # the payments have completed
    downloaded: Callable[[date], None] = lambda day: None  # a day's statement exists
    no_statement: Callable[[date], None] = lambda day: None  # not yet for that day
    breaks: Callable[[date], None] = lambda day: None  # the day's statement is unreadable
    days: dict = field(default_factory=dict)  # the files side's rows, by day


def fresh_phone() -> str:
    return "2547" + "".join(secrets.choice("0123456789") for _ in range(8))


def receipt() -> str:
    return "UKT" + secrets.token_hex(4).upper()[:7]


def fake_side() -> Side:
    fake = FakeStatement()

    def pays(direction: str, shillings: int, reference: str, at: datetime | None = None):
        fake.add(
            StatementEntry(
                receipt=receipt(), completed_at=at or datetime.now(UTC), amount=shillings * 100,
                direction=direction, counterparty=side.phone, reference=reference,
                conversation_id=f"AG_{secrets.token_hex(8)}",
            )
        )  # fmt: skip

    # A fake's day has a statement unless it is `missing`; a files' day has none
    # until its CSV is written.
    side = Side(fake, fresh_phone(), pays, no_statement=fake.missing.add, breaks=fake.broken.add)
    return side


def files_side(directory: Path) -> Side:
    files = StatementFiles(directory)

    def write(day: date, rows: list[dict]) -> None:
        with files.path(day).open("w", newline="", encoding="utf-8-sig") as handle:
            writer = csv.DictWriter(handle, COLUMNS)
            writer.writeheader()
            writer.writerows(rows)

    def pays(direction: str, shillings: int, reference: str, at: datetime | None = None):
        at = (at or datetime.now(UTC)).astimezone(EAT)
        amount = f"{shillings}.00"
        row = {
            "Receipt No.": receipt(), "Completion Time": f"{at:%Y-%m-%d %H:%M:%S}",
            "Initiation Time": f"{at:%Y-%m-%d %H:%M:%S}", "Transaction Status": "Completed",
            "Details": "Pay Bill Online" if direction == "in" else "Business Payment",
            "Paid In": amount if direction == "in" else "",
            "Withdrawn": "" if direction == "in" else f"-{amount}",
            "Reason Type": "Pay Bill Online" if direction == "in" else "Business Payment",
            "Other Party Info": f"{side.phone} - Jane Wanjiku", "A/C No.": reference,
            "Conversation ID": f"AG_{secrets.token_hex(8)}",
        }  # fmt: skip
        side.days.setdefault(at.date(), []).append(row)

    def settle() -> None:
        for day, rows in side.days.items():
            write(day, rows)

    def breaks(day: date) -> None:
        files.path(day).write_bytes(b"\xff\xfe\x00not a statement\x00")

    side = Side(
        files, fresh_phone(), pays, settle, downloaded=lambda day: write(day, []), breaks=breaks
    )
    return side


def sandbox_side(sandbox_url: str) -> Side:
    daraja = DarajaClient(sandbox_url)

    def pays(direction: str, shillings: int, reference: str, at: datetime | None = None):
        assert at is None, "the sandbox's payments complete now"
        if direction == "in":
            answer = daraja.stk_push(side.phone, shillings, CALLBACK, AccountReference=reference)
        else:
            answer = daraja.b2c(side.phone, shillings, CALLBACK, CALLBACK, Occasion=reference)
        assert answer.status_code == 200, answer.text

    def breaks(day: date) -> None:
        side.port = SandboxStatement(f"http://127.0.0.1:{free_port()}", timeout_s=2)

    side = Side(
        SandboxStatement(sandbox_url), fresh_phone(), pays, lambda: time.sleep(SETTLED_S),
        breaks=breaks,
    )  # fmt: skip
    return side


@pytest.fixture
def sides(tmp_path, sandbox_url) -> dict[str, Callable[[], Side]]:
    directories = iter(range(1000))

    def files() -> Side:
        directory = tmp_path / f"statements-{next(directories)}"
        directory.mkdir()
        return files_side(directory)

    return {"fake": fake_side, "files": files, "sandbox": lambda: sandbox_side(sandbox_url)}


def today() -> date:
    return eat_day(datetime.now(UTC))


def read(side: Side, day: date):
    """What reconciliation reads of a day: its entries for this side's customer (the
    sandbox is shared), each with what the sources share, or None, or the refusal;
    the receipt and conversation id are there, spelled as each source spells them."""
    got = outcome(lambda: side.port.entries(day), StatementUnavailable)
    if not isinstance(got, list):
        return got
    return [
        (e.direction, e.amount, e.reference, eat_day(e.completed_at),
         bool(e.receipt), bool(e.conversation_id))
        for e in got
        if e.counterparty == side.phone
    ]  # fmt: skip


def test_a_day_s_statement_lists_what_was_paid_in_and_out_that_day(sides):
    def scenario(side: Side):
        side.pays("in", 150, "DEPREF1")
        side.pays("out", 300, "WDRREF1")
        yesterday = today() - timedelta(days=1)
        side.downloaded(yesterday)
        side.settle()
        return read(side, today()), read(side, yesterday)

    on_the_day, the_day_before = observe(sides, scenario)
    assert [e[:3] for e in on_the_day] == [
        ("in", 15_000, "DEPREF1"),
        ("out", 30_000, "WDRREF1"),
    ]
    assert the_day_before == []


def test_a_statement_that_cannot_be_read_is_unavailable(sides):
    def scenario(side: Side):
        side.breaks(today())
        return read(side, today())

    assert observe(sides, scenario) == ("StatementUnavailable", {})


def test_a_day_with_no_statement_yet_has_none(sides):
    del sides["sandbox"]  # the sandbox has a statement for every day

    def scenario(side: Side):
        day = today() - timedelta(days=3)
        side.no_statement(day)
        return read(side, day)

    assert observe(sides, scenario) is None


def test_an_entry_belongs_to_its_east_africa_day_not_its_utc_one(sides):
    del sides["sandbox"]  # the sandbox's payments complete now
    after_midnight = datetime(2026, 11, 28, 21, 30, tzinfo=UTC)  # 00:30 on the 29th in EAT

    def scenario(side: Side):
        side.pays("in", 150, "DEPREF2", at=after_midnight)
        for day in (date(2026, 11, 28), date(2026, 11, 29)):
            side.downloaded(day)
        side.settle()
        return read(side, date(2026, 11, 28)), read(side, date(2026, 11, 29))

    the_28th, the_29th = observe(sides, scenario)
    assert the_28th == [] and [e[3] for e in the_29th] == [date(2026, 11, 29)]
