"""The rows behind a dashboard figure: one generic table per figure and label."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from app.console.trail import ConsoleRoute, Viewer
from app.services import console_rails

router = APIRouter(prefix="/console", include_in_schema=False, route_class=ConsoleRoute)


@router.get("/figures/{figure}", name="dashboard_rows")
async def figure_rows(
    figure: Annotated[str, Path(pattern=r"^[a-z_]{1,20}$")],
    console: Viewer,
    label: Annotated[str, Query(max_length=40)] = "",
    day: Annotated[date | None, Query()] = None,
    days: Annotated[int, Query(ge=1, le=366)] = console_rails.RAILS_DAYS,
) -> Response:
    console.audit.detail.update(figure=figure, label=label, day=str(day) if day else None)
    listing = await console.read(console_rails.rows, figure, label=label, day=day, days=days)
    return console.page(
        "figures.html",
        figure=figure,
        label=label,
        day=day,
        days=days,
        listing=listing,
        limit=console_rails.ROWS_LIMIT,
    )
