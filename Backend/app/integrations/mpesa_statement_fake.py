"""A hand-written fake of the `MpesaStatement` port, for unit tests: the entries each
day's statement holds, as the test wrote them (the sandbox plays M-Pesa in integration
tests)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from app.domain.mpesa_reconciliation import StatementEntry, eat_day
from app.integrations.mpesa_statement import StatementUnavailable


@dataclass
class FakeStatement:
    """`add(entry)` files an entry under its East Africa Time day; `missing` days have
    no statement yet (None); `broken` days raise StatementUnavailable."""

    name: str = "fake"
    days: dict[date, list[StatementEntry]] = field(default_factory=dict)
    missing: set[date] = field(default_factory=set)
    broken: set[date] = field(default_factory=set)
    asked: list[date] = field(default_factory=list)

    def add(self, *entries: StatementEntry) -> None:
        for entry in entries:
            self.days.setdefault(eat_day(entry.completed_at), []).append(entry)

    def entries(self, day: date) -> list[StatementEntry] | None:
        self.asked.append(day)
        if day in self.broken:
            raise StatementUnavailable(f"statement of {day} is unreadable")
        if day in self.missing:
            return None
        return list(self.days.get(day, []))
