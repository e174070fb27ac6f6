"""The console dashboard's rails health, money positions, daily series by kind, and the
rows behind each figure; every figure from PostgreSQL (db/repositories/console_rails.py).

Rails and fees are counted over RAILS_DAYS Nairobi days (today included); positions
(holds, the M-Pesa float, settlements by status) are as of now.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from app.db.unit_of_work import UnitOfWork
from app.domain.money import NAIROBI
from app.domain.records.console_rails import Count, Lag, Listing
from app.errors import refused
from app.services.console_dashboard import SERIES_DAYS, Dashboard, dashboard, day_start

RAILS_DAYS = 30
ROWS_LIMIT = 100
FLOAT_LOOKBACK = 20  # B2C results read to find the newest that reports the float
FLOAT_KEY = "B2CUtilityAccountAvailableFunds"
# The daily series' stacks: journal kinds that touch a wallet, named for people. A kind
# not listed is "other" (reversals, releases, refunds).
KIND_GROUPS: dict[str, tuple[str, ...]] = {
    "transfers": ("transfer",),
    "deposits": ("deposit", "cash_in"),
    "withdrawals": ("withdrawal",),
    "harambee": ("contribution", "campaign_payout", "campaign_refund"),
    "merchant payments": ("merchant_payment", "stellar_order_payment"),
    "bills": ("bill_hold",),
}
OTHER = "other"
ALL = "all"  # every kind that touched a wallet: the KPI strip's rows
# What an STK ResultCode means, for the dashboard (Daraja's codes seen in PayTrace).
STK_MEANINGS = {
    "0": "paid",
    "1": "not enough money",
    "1032": "cancelled by the customer",
    "1037": "phone not reached",
    "2001": "wrong M-Pesa PIN",
}
FIGURES = ("movements", "deposits", "withdrawals", "sms", "fees", "registrations")
WINDOWS = (1, 7, 30)


@dataclass(frozen=True)
class Float:
    cents: int
    reported_at: datetime
    reference: str | None  # the B2C result's OriginatorConversationID


@dataclass(frozen=True)
class Rails:
    days: int
    stk: tuple[Count, ...]
    b2c: tuple[Count, ...]
    sms: tuple[Count, ...]
    settlements: tuple[Count, ...]  # as of now, by status
    lag: Lag
    active_today: int  # people whose wallet moved today
    active_window: int  # ... in the window

    def success(self) -> dict[str, Rate]:
        """Per rail, of what it ended: STK pushes paid (of those M-Pesa answered), B2C
        paid out (of those paid or released), SMS sent or delivered (of those AT
        answered), settlements settled (of those settled or parked)."""

        def word(label: str) -> str:
            return label.split(" ")[0]

        return {
            "M-Pesa STK": _rate(self.stk, lambda c: c == "0", str.isdigit),
            "M-Pesa B2C": _rate(
                self.b2c,
                lambda c: word(c) == "completed",
                lambda c: word(c) in ("completed", "released"),
            ),
            "SMS": _rate(
                self.sms, lambda s: s in ("sent", "delivered"), lambda s: s != "submitted"
            ),
            "Stellar": _rate(
                self.settlements, lambda s: s == "settled", lambda s: s in ("settled", "failed")
            ),
        }


@dataclass(frozen=True)
class Rate:
    """Of the requests a rail has ended, how many succeeded."""

    ok: int
    ended: int

    @property
    def percent(self) -> float | None:
        return None if self.ended == 0 else 100 * self.ok / self.ended


@dataclass(frozen=True)
class Positions:
    mpesa_float: Float | None
    fees_today: int
    fees_window: int
    holds: tuple[Count, ...]


@dataclass(frozen=True)
class Series:
    days: tuple[date, ...]
    groups: dict[str, tuple[int, ...]]  # cents per day, per stack, zero-filled
    counts: dict[str, tuple[int, ...]]


def _rate(
    counts: tuple[Count, ...], ok: Callable[[str], bool], ended: Callable[[str], bool]
) -> Rate:
    done = [c for c in counts if ended(c.label)]
    return Rate(sum(c.count for c in done if ok(c.label)), sum(c.count for c in done))


def group_of(kind: str) -> str:
    return next((g for g, kinds in KIND_GROUPS.items() if kind in kinds), OTHER)


def health(uow: UnitOfWork, now: datetime | None = None) -> tuple[Rails, Positions]:
    """Rails health and money positions. Read-only; raises ServiceUnavailable."""
    now = now or datetime.now(UTC)
    since, until = day_start(RAILS_DAYS - 1, now), day_start(-1, now)
    with uow:
        repo = uow.console_rails
        rails = Rails(
            days=RAILS_DAYS,
            stk=tuple(repo.stk_outcomes(since, until)),
            b2c=tuple(repo.b2c_results(since, until)),
            sms=tuple(repo.sms_by_status(since, until)),
            settlements=tuple(repo.settlements_by_status()),
            lag=repo.settlement_lag(since, until, now),
            active_today=repo.active_users(day_start(0, now), until),
            active_window=repo.active_users(since, until),
        )
        positions = Positions(
            mpesa_float=_float(repo.latest_b2c_results(FLOAT_LOOKBACK)),
            fees_today=repo.fees_earned(day_start(0, now), until),
            fees_window=repo.fees_earned(since, until),
            holds=tuple(repo.holds()),
        )
    return rails, positions


def _float(results: list[tuple[int, datetime, str | None, str]]) -> Float | None:
    """The newest B2C result that reports the utility account's balance (KES, as
    M-Pesa writes it, read as a decimal: never a float)."""
    for _id, received_at, reference, body in results:
        try:
            payload = json.loads(body, parse_float=Decimal)
            params = payload["Result"]["ResultParameters"]["ResultParameter"]
            value = next(p["Value"] for p in params if p.get("Key") == FLOAT_KEY)
            cents = Decimal(str(value)) * 100
        except (ValueError, KeyError, TypeError, StopIteration, InvalidOperation):
            continue
        if cents.is_finite() and cents >= 0 and cents == cents.to_integral_value():
            return Float(int(cents), received_at, reference)
    return None


@dataclass(frozen=True)
class Overview:
    figures: Dashboard
    rails: Rails
    positions: Positions


def overview(uow: UnitOfWork, now: datetime | None = None) -> Overview:
    """The whole dashboard: KPIs and daily totals (console_dashboard), rails health and
    money positions, all as of one moment. Read-only; raises ServiceUnavailable."""
    now = now or datetime.now(UTC)
    figures = dashboard(uow, now)
    rails, positions = health(uow, now)
    return Overview(figures, rails, positions)


def daily_by_kind(uow: UnitOfWork, now: datetime | None = None) -> Series:
    """Value and count per Nairobi day and stack over the dashboard's SERIES_DAYS,
    zero-filled. Read-only; raises ServiceUnavailable."""
    now = now or datetime.now(UTC)
    today = now.astimezone(NAIROBI).date()
    first = today - timedelta(days=SERIES_DAYS - 1)
    offset = NAIROBI.utcoffset(None)
    assert offset is not None
    with uow:
        rows = uow.console_rails.daily_by_kind(
            first, today, offset, day_start(SERIES_DAYS - 1, now)
        )
    days = tuple(first + timedelta(days=n) for n in range(SERIES_DAYS))
    names = (*KIND_GROUPS, OTHER)
    value = {g: [0] * SERIES_DAYS for g in names}
    count = {g: [0] * SERIES_DAYS for g in names}
    for row in rows:
        at = (row.day - first).days
        value[group_of(row.kind)][at] += row.value
        count[group_of(row.kind)][at] += row.count
    return Series(
        days, {g: tuple(v) for g, v in value.items()}, {g: tuple(c) for g, c in count.items()}
    )


def rows(
    uow: UnitOfWork,
    figure: str,
    *,
    label: str = "",
    day: date | None = None,
    days: int = RAILS_DAYS,
    now: datetime | None = None,
) -> Listing:
    """The rows behind a figure: `movements` of a stack (label), `deposits` by
    ResultCode, `withdrawals` by status, `sms` by status, `fees`, `registrations` (the
    users created); over one Nairobi day
    or the last `days` days. Raises ValidationFailed ('invalid_figure',
    'invalid_window'), ServiceUnavailable."""
    now = now or datetime.now(UTC)
    stacks = (*KIND_GROUPS, OTHER, ALL)
    if figure not in FIGURES or (figure == "movements" and label not in stacks):
        raise refused("invalid_figure", "no such figure")
    if day is not None:
        since = datetime.combine(day, datetime.min.time(), tzinfo=NAIROBI)
        until = since + timedelta(days=1)
    elif days in WINDOWS:
        since, until = day_start(days - 1, now), day_start(-1, now)
    else:
        raise refused("invalid_window", f"days is one of {', '.join(map(str, WINDOWS))}")
    with uow:
        repo = uow.console_rails
        if figure == "movements":
            kinds = KIND_GROUPS.get(label) or _unlisted_kinds(repo, since, until, label == ALL)
            return repo.movements_listed(kinds, since, until, ROWS_LIMIT)
        if figure == "deposits":
            return repo.deposits_listed(label, since, until, ROWS_LIMIT)
        if figure == "withdrawals":
            return repo.withdrawals_listed(label, since, until, ROWS_LIMIT)
        if figure == "sms":
            return repo.sms_listed(label, since, until, ROWS_LIMIT)
        if figure == "registrations":
            return uow.console.registrations_listed(since, until, ROWS_LIMIT)
        return repo.fees_listed(since, until, ROWS_LIMIT)


def _unlisted_kinds(repo, since: datetime, until: datetime, every: bool) -> tuple[str, ...]:
    """The window's kinds in no stack ("other"), or all of them."""
    listed = {kind for kinds in KIND_GROUPS.values() for kind in kinds}
    posted = repo.journal_kinds(since, until)
    return tuple(k for k in posted if every or k not in listed) or ("",)
