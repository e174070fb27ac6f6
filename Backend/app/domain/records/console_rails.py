"""What the console dashboard reads about the rails and PayTrace's money positions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Count:
    label: str  # a ResultCode, a status, a hold
    count: int
    value: int  # cents (0 where the figure has no amount, as SMS)


@dataclass(frozen=True)
class Lag:
    settled: int  # settled in the window
    p50_s: float | None  # seconds from posting to settling
    p95_s: float | None
    oldest_unsettled_s: float | None  # age of the oldest still unsettled, now


@dataclass(frozen=True)
class DayKind:
    day: date
    kind: str  # a journal kind
    count: int
    value: int  # cents


@dataclass(frozen=True)
class Listing:
    """The rows behind a figure, as columns and values, for one generic table."""

    columns: tuple[str, ...]
    rows: tuple[tuple, ...]
