"""Turning screen bodies into what a handset can show.

This is the one place that enforces the USSD limits: at most 182 characters,
GSM-7 only. Long bodies are split into pages joined by `98. More` (or come as
explicit pages); `0. Back 00. Home` closes every screen but the home screen.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from app.domain.gsm7 import USSD_MAX_CHARS, to_gsm7
from app.ussd.texts import text

log = logging.getLogger("paytrace.ussd")


@dataclass(frozen=True)
class Rendered:
    response: str  # "CON ..." or "END ..."
    page: int = 0

    @property
    def ends(self) -> bool:
        return self.response.startswith("END ")


def _guard(prefix: str, body: str) -> str:
    body = to_gsm7(body)
    response = f"{prefix} {body}"
    if len(response) > USSD_MAX_CHARS:
        # A bug, not a user error: screens are tested against this limit.
        log.error("ussd screen over limit", extra={"chars": len(response)})
        response = response[: USSD_MAX_CHARS - 3] + "..."
    return response


def render_end(language: str, body: str) -> Rendered:
    return Rendered(_guard("END", body))


def _paginate(body: str, budget: int) -> list[str]:
    """Split on line breaks, then on words, so each page fits the budget."""
    pages: list[str] = []
    current = ""
    for line in body.split("\n"):
        for word_line in _wrap(line, budget):
            candidate = f"{current}\n{word_line}" if current else word_line
            if len(candidate) <= budget:
                current = candidate
            else:
                pages.append(current)
                current = word_line
    pages.append(current)
    return pages


def _wrap(line: str, budget: int) -> list[str]:
    if len(line) <= budget:
        return [line]
    out, current = [], ""
    for word in line.split(" "):
        candidate = f"{current} {word}" if current else word
        if len(candidate) <= budget:
            current = candidate
        else:
            if current:
                out.append(current)
            current = word[:budget]
    if current:
        out.append(current)
    return out


def render_screen(
    language: str, body: str | list[str], *, page: int, with_nav: bool, lead: str = ""
) -> Rendered:
    """A CON screen: lead (a reason or notice) above the body, the footer below.

    A text body is split into pages where it must be; a list body is explicit
    pages (a statement, three lines a screen), split further only if one could not
    fit. `page` counts 98s and wraps past the last page.
    """
    nav = text(language, "nav.back_home") if with_nav else ""
    more = text(language, "nav.more")
    room = USSD_MAX_CHARS - len("CON ")
    paged_footer = f"{more}\n{nav}" if nav else more
    budget = room - len(paged_footer) - 1
    if isinstance(body, str):
        body = f"{lead}\n{body}" if lead else body
        whole = f"{body}\n{nav}" if nav else body
        if len(whole) <= room:
            return Rendered(_guard("CON", whole), 0)
        pages, lead = _paginate(body, budget), ""
    else:
        pages = [part for given in body or [""] for part in _paginate(given, budget)]
    page = page % len(pages)  # 98 on the last page starts again at the first
    footer = nav if page == len(pages) - 1 else paged_footer
    content = pages[page]
    # On explicit pages a reason goes on top only when it fits: the page itself,
    # and the footer saying which inputs work, matter more.
    if lead and len(lead) + 1 + len(content) + (len(footer) + 1 if footer else 0) <= room:
        content = f"{lead}\n{content}"
    return Rendered(_guard("CON", f"{content}\n{footer}" if footer else content), page)
