"""Assembles the USSD entrypoint from a Runtime: store, services, per-hop config."""

from __future__ import annotations

from dataclasses import dataclass

from app.runtime import Runtime
from app.services.facade import ChannelServices
from app.services.hop_latency import HopLatencies
from app.ussd.hop import HopConfig
from app.ussd.ports import UssdServices
from app.ussd.session_store import SessionStore


@dataclass
class UssdHub:
    store: SessionStore
    services: UssdServices
    config: HopConfig
    service_codes: list[str]
    deadline_s: float
    commit_deadline_s: float
    # Each hop's time, counted in memory; the app's flusher writes it (hop_latency.py).
    latencies: HopLatencies


def build_ussd(runtime: Runtime, services: ChannelServices) -> UssdHub:
    settings = runtime.settings
    store = SessionStore(
        runtime.redis,
        settings.redis_prefix,
        ttl_s=settings.ussd_session_ttl_s,
        profile_ttl_s=settings.profile_cache_ttl_s,
        lane=runtime.redis_lane,
    )
    assert settings.session_secret is not None  # filled in outside production
    return UssdHub(
        store=store,
        services=services,
        config=HopConfig(
            secret=settings.session_secret.get_secret_value().encode(),
            shortcode=settings.ussd_service_codes[0],
        ),
        service_codes=settings.ussd_service_codes,
        deadline_s=settings.ussd_hop_deadline_s,
        commit_deadline_s=settings.ussd_commit_deadline_s,
        latencies=HopLatencies(),
    )
