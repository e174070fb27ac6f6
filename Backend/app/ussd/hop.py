"""One USSD hop: identify it, replay it if seen, else run the flow and remember.

A hop is identified by an HMAC of (sessionId, text): the text holds the PIN, so
neither it nor a plain hash of it (four digits are easy to brute-force) is ever
stored.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass

from app.domain.phone import mask
from app.infra.metrics import USSD_HOPS_BY
from app.services.accounts import Profile
from app.ussd.engine import Context, Flow, State, new_inputs, run_hop
from app.ussd.pay import requests
from app.ussd.ports import UssdServices
from app.ussd.render import render_end
from app.ussd.session_store import KEEP, SessionStore
from app.ussd.texts import text

log = logging.getLogger("paytrace.ussd")


@dataclass(frozen=True)
class Hop:
    session_id: str
    service_code: str
    phone: str  # E.164
    network_code: str
    text: str


@dataclass(frozen=True)
class HopConfig:
    secret: bytes
    shortcode: str


def hop_digest(secret: bytes, session_id: str, text_field: str) -> str:
    message = f"{session_id}\x00{text_field}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:32]


async def handle_hop(
    hop: Hop,
    flow: Flow,
    store: SessionStore,
    services: UssdServices,
    config: HopConfig,
    on_commit: Callable[[], None] | None = None,
) -> str:
    """Answer one hop with a CON/END string; side effects happen at most once per hop."""
    digest = hop_digest(config.secret, hop.session_id, hop.text)
    stored, profile, known, asked = await store.load(hop.session_id, hop.phone)
    # A profile read from PostgreSQL is cached with the session's save: one round trip.
    to_cache: Profile | object | None = KEEP
    if stored is not None:
        answer = stored["answers"].get(digest)
        if answer is not None:
            USSD_HOPS_BY("-", "replay").inc()
            return answer  # a gateway retry: same answer, nothing runs again
        state = State.from_dict(stored["state"])
    else:
        if not known:
            profile = to_cache = await services.profile(hop.phone)
        state = State(
            phone=hop.phone,
            language=profile.language if profile else "en",
            user=profile,
            stack=[],
        )
        if asked and profile is not None and not hop.text:
            await _open_on_pay_request(state, services, store, flow)
    if state.ended:
        return render_end(state.language, text(state.language, "end.goodbye")).response
    user_before = state.user
    inputs, state.consumed = new_inputs(hop.text, state.consumed)
    ctx = Context(
        state=state,
        services=services,
        session_id=hop.session_id,
        hop_key=digest,
        shortcode=config.shortcode,
        on_commit=on_commit,
    )
    rendered = await run_hop(flow, ctx, inputs)
    if state.user is not None and state.user != user_before:
        # Registered, or changed language, or a fresher wallet status: the next
        # session's first hop reads it from the cache.
        to_cache = state.user
    await store.save(
        hop.session_id,
        hop.phone,
        stored,
        state.to_dict(),
        digest,
        rendered.response,
        profile=to_cache,
    )
    screen = state.stack[-1] if state.stack else "-"
    USSD_HOPS_BY(screen, "end" if rendered.ends else "con").inc()
    if log.isEnabledFor(logging.DEBUG):
        log.debug(
            "ussd hop",
            extra={
                "session": hop.session_id,
                "phone": mask(hop.phone),
                "screen": state.stack[-1] if state.stack else None,
                "ended": rendered.ends,
            },
        )
    return rendered.response


async def _open_on_pay_request(
    state: State, services: UssdServices, store: SessionStore, flow: Flow
) -> None:
    """A plain dial (no *-shortcut typed) by a caller a merchant asked to pay opens on
    the request; a flag whose request is gone (paid, declined, expired) is dropped."""
    if not await requests.open_pending(state, services, flow.home_registered):
        await store.forget_pay_request(state.phone)
