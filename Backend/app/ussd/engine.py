"""The USSD state machine runner.

Screens are declared as data in `flow.py`; this module knows how to consume the
new part of AT's cumulative `text`, apply `0` (back), `00` (home) and `98`
(more) everywhere, call a screen's handler, and render the result. It never
touches I/O except through the `UssdServices` port in the context.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from app.services.accounts import Profile
from app.ussd.ports import UssdServices
from app.ussd.render import Rendered, render_end, render_screen
from app.ussd.texts import text

MAX_INPUT_CHARS = 160
MAX_NEW_INPUTS = 10


# ---- outcomes a handler returns ---------------------------------------------


@dataclass(frozen=True)
class Goto:
    screen: str
    notice: str | None = None  # a text key shown above the next screen
    reset: bool = False  # True: the stack restarts at home (a journey is finished)


@dataclass(frozen=True)
class Reprompt:
    error: str  # text key
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class End:
    key: str
    values: dict[str, Any] = field(default_factory=dict)


Outcome = Goto | Reprompt | End
Handler = Callable[["Context", str], Awaitable[Outcome]]
# A body is one text (paged to fit) or a list of pages shown exactly as given.
Body = Callable[["Context"], str | list[str]]
# Values a screen's own text needs (a recipient's name...), on top of Context.values().
Values = Callable[["Context"], dict[str, Any]]


# ---- screens ------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    label: str  # text key
    goto: str | None = None
    action: Handler | None = None


@dataclass(frozen=True)
class Menu:
    id: str
    title: str  # text key, formatted with context values
    options: tuple[Option, ...]
    values: Values | None = None


@dataclass(frozen=True)
class Prompt:
    id: str
    prompt: str  # text key
    handler: Handler
    values: Values | None = None
    nav: bool = True  # False: the text offers its own way out, no back/home footer


@dataclass(frozen=True)
class Info:
    """Read-only content, paged with 98: split to fit, or as the explicit pages given."""

    id: str
    body: Body


Screen = Menu | Prompt | Info


# ---- session state ------------------------------------------------------------


@dataclass
class State:
    phone: str
    language: str
    user: Profile | None
    stack: list[str]
    page: int = 0
    data: dict[str, Any] = field(default_factory=dict)
    notice: str | None = None
    consumed: int = 0  # how many '*'-separated parts of `text` are consumed
    ended: bool = False

    def to_dict(self) -> dict[str, Any]:
        # By hand, not dataclasses.asdict: asdict deep-copies every value, a tenth of a
        # navigation hop's CPU for a dict that is JSON-encoded at once (docs/benchmarks.md).
        return {
            "phone": self.phone,
            "language": self.language,
            # Profile's fields are plain strings and ints: a copy of its attributes is
            # what asdict gives, without asdict's deep copy of each (8 fields a hop).
            "user": dict(vars(self.user)) if self.user is not None else None,
            "stack": list(self.stack),
            "page": self.page,
            "data": dict(self.data),
            "notice": self.notice,
            "consumed": self.consumed,
            "ended": self.ended,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> State:
        user = raw.get("user")
        return cls(**{**raw, "user": Profile(**user) if user else None})


@dataclass
class Context:
    state: State
    services: UssdServices
    session_id: str
    hop_key: str  # identifies this hop (HMAC of session and text): idempotency keys
    shortcode: str
    # Called just before a call that commits something the caller must hear about
    # (money, a registration, a new PIN): the entrypoint then gives the hop the
    # longer commit deadline instead of cutting it off mid-commit.
    on_commit: Callable[[], None] | None = None

    def committing(self) -> None:
        if self.on_commit is not None:
            self.on_commit()

    @property
    def lang(self) -> str:
        return self.state.language

    @property
    def user(self) -> Profile:
        assert self.state.user is not None, "screen reached without a registered user"
        return self.state.user

    def values(self) -> dict[str, Any]:
        """Values every text may use."""
        user = self.state.user
        first = user.full_name.split()[0][:20] if user else ""
        return {"first": first, "shortcode": self.shortcode}


@dataclass(frozen=True)
class Flow:
    screens: dict[str, Screen]
    home_registered: str
    home_unregistered: str

    def home(self, state: State) -> str:
        return self.home_registered if state.user else self.home_unregistered


# ---- the runner -----------------------------------------------------------------


def new_inputs(text_field: str, consumed: int) -> tuple[list[str], int]:
    """The parts of AT's cumulative text not yet consumed, and the new consumed count."""
    parts = text_field.split("*") if text_field else []
    if len(parts) > consumed:
        fresh = parts[consumed:]
        if len(fresh) > MAX_NEW_INPUTS:  # absurd hop: act on its last input only
            fresh = fresh[-1:]
        return fresh, len(parts)
    # Shorter or equal text under a new hop (a gateway that resets text):
    # act on the last part only.
    return (parts[-1:] if parts else []), consumed


async def run_hop(flow: Flow, ctx: Context, inputs: list[str]) -> Rendered:
    """Apply each new input in order and render where the session now stands."""
    state = ctx.state
    if not state.stack:
        state.stack = [flow.home(state)]
    error: tuple[str, dict[str, Any]] | None = None
    for raw in inputs:
        error = None
        outcome = await _apply_input(flow, ctx, raw.strip())
        if isinstance(outcome, End):
            state.ended = True
            values = {**ctx.values(), **outcome.values}
            return render_end(ctx.lang, text(ctx.lang, outcome.key, **values))
        if isinstance(outcome, Reprompt):
            error = (outcome.error, outcome.values)
    return _render_current(flow, ctx, error)


async def _apply_input(flow: Flow, ctx: Context, value: str) -> Outcome | None:
    state = ctx.state
    screen = flow.screens[state.stack[-1]]
    state.notice = None
    if value == "00":
        state.stack = [flow.home(state)]
        state.page, state.data = 0, {}
        return None
    if value == "0":
        if len(state.stack) > 1:
            state.stack.pop()
        state.page = 0
        return None
    if value == "98" and isinstance(screen, Info | Menu):
        state.page += 1  # rendering wraps past the last page
        return None
    if not value:
        return Reprompt("err.empty")
    if len(value) > MAX_INPUT_CHARS:
        return Reprompt("err.too_long")
    outcome = await _dispatch(screen, ctx, value)
    if isinstance(outcome, Goto):
        if outcome.reset:
            state.stack = [flow.home(state)]
            state.data = {}
        if outcome.screen != state.stack[-1]:
            state.stack.append(outcome.screen)
        state.page = 0
        state.notice = outcome.notice
    return outcome


async def _dispatch(screen: Screen, ctx: Context, value: str) -> Outcome:
    if isinstance(screen, Prompt):
        return await screen.handler(ctx, value)
    if isinstance(screen, Menu):
        if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= len(screen.options):
            return Reprompt("err.invalid_option")
        option = screen.options[int(value) - 1]
        if option.action is not None:
            return await option.action(ctx, value)
        assert option.goto is not None
        return Goto(option.goto)
    return Reprompt("err.invalid_option")  # Info screens take only 0, 00 and 98


def _render_current(flow: Flow, ctx: Context, error: tuple[str, dict[str, Any]] | None) -> Rendered:
    state = ctx.state
    screen = flow.screens[state.stack[-1]]
    values = ctx.values()
    if not isinstance(screen, Info) and screen.values is not None:
        values.update(screen.values(ctx))
    lead = []
    if state.notice:
        lead.append(text(ctx.lang, state.notice, **values))
    if error:
        lead.append(text(ctx.lang, error[0], **{**values, **error[1]}))
    body: str | list[str]
    if isinstance(screen, Menu):
        head = text(ctx.lang, screen.title, **values)
        lines = [f"{i}. {text(ctx.lang, o.label)}" for i, o in enumerate(screen.options, 1)]
        body = "\n".join([head, *lines])
    elif isinstance(screen, Prompt):
        body = text(ctx.lang, screen.prompt, **values)
    else:
        body = screen.body(ctx)
    at_home = len(state.stack) == 1
    with_nav = not at_home and (not isinstance(screen, Prompt) or screen.nav)
    rendered = render_screen(
        ctx.lang, body, page=state.page, with_nav=with_nav, lead="\n".join(lead)
    )
    state.page = rendered.page
    return rendered
