"""The console's wages report: per month, what each employer's paid lines came to and
what is due to each authority; an employer's month line by line, and its CSV (the
employer API's report). Viewers may read it all."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from app.console.trail import ConsoleRoute, Viewer
from app.console.web import SECURITY_HEADERS
from app.domain.money import nairobi_day
from app.domain.wages import AUTHORITIES, ITEMS
from app.services import console_wages
from app.services.wages import reports

router = APIRouter(prefix="/console", include_in_schema=False, route_class=ConsoleRoute)

EmployerId = Annotated[int, Path(ge=1, le=2**63 - 1)]
# YYYY-MM; none: the current Nairobi month.
MonthQuery = Annotated[str | None, Query(max_length=7, pattern=r"^20[0-9]{2}-(0[1-9]|1[0-2])$")]
EMPLOYERS_PAGE = 50


def _month(text: str | None) -> tuple[int, int]:
    if text is None:
        today = nairobi_day(datetime.now(UTC))
        return today.year, today.month
    year, number = (int(part) for part in text.split("-"))
    return year, number


def _shown(year: int, month: int) -> dict[str, object]:
    """What every wages page says of its month: its name and its neighbours."""
    earlier = date(year - 1, 12, 1) if month == 1 else date(year, month - 1, 1)
    later = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return {
        "month": f"{year:04d}-{month:02d}",
        "month_name": date(year, month, 1).strftime("%B %Y"),
        "earlier": earlier.strftime("%Y-%m"),
        "later": later.strftime("%Y-%m"),
        "items": ITEMS,
        "authorities": AUTHORITIES,
    }


@router.get("/wages", name="wages")
async def wages(
    console: Viewer,
    month: MonthQuery = None,
    q: Annotated[str, Query(max_length=32)] = "",
    after: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> Response:
    year, number = _month(month)
    if q.strip():
        console.audit.detail["query"] = q.strip()
    rows, more = await console.run(
        console_wages.page, year, number, search=q, after_id=after, limit=EMPLOYERS_PAGE
    )
    return console.page(
        "wages.html",
        rows=rows,
        q=q,
        next_after=rows[-1].employer_user_id if more and rows else None,
        **_shown(year, number),
    )


@router.get("/wages/{employer_user_id}", name="employer_wages")
async def employer_wages(
    employer_user_id: EmployerId, console: Viewer, month: MonthQuery = None
) -> Response:
    year, number = _month(month)
    console.audit.target("employer", str(employer_user_id))
    console.audit.detail["month"] = f"{year:04d}-{number:02d}"
    card = await console.run(console_wages.card, employer_user_id, year, number)
    return console.page("employer_wages.html", card=card, **_shown(year, number))


@router.get("/wages/{employer_user_id}/dues.csv", name="employer_dues_csv")
async def employer_dues_csv(
    employer_user_id: EmployerId, console: Viewer, month: MonthQuery = None
) -> Response:
    """The employer API's monthly dues report (the same function, the same CSV)."""
    year, number = _month(month)
    console.audit.target("employer", str(employer_user_id))
    console.audit.detail["month"] = f"{year:04d}-{number:02d}"
    text = await console.run(reports.dues_csv, employer_user_id, year, number)
    name = f"dues-{employer_user_id}-{year:04d}-{number:02d}.csv"
    return Response(
        content=text,
        media_type="text/csv",
        headers={**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'},
    )
