"""Drive the USSD hop handler as AT would, on fakeredis and fake services."""

from __future__ import annotations

import asyncio
import uuid

import fakeredis

from app.ussd.flow import FLOW
from app.ussd.hop import Hop, HopConfig, handle_hop
from app.ussd.session_store import SessionStore, session_key
from tests.unit.fakes import FakeUssdServices

PHONE = "+254712345678"


class Phone:
    def __init__(self, services: FakeUssdServices, store: SessionStore, phone: str = PHONE):
        self.services = services
        self.store = store
        self.phone = phone
        self.session_id = ""
        self.inputs: list[str] = []
        self.config = HopConfig(secret=b"k" * 32, shortcode="*384*123#")

    @property
    def session_key(self) -> str:
        """Where this phone's USSD session is stored (the store's own rule)."""
        return session_key("test:", self.phone, self.session_id)

    def dial(self) -> str:
        self.session_id = f"ATUid_{uuid.uuid4().hex[:12]}"
        self.inputs = []
        return self.hop()

    def send(self, value: str) -> str:
        self.inputs.append(value)
        return self.hop()

    def hop(self) -> str:
        hop = Hop(self.session_id, "*384*123#", self.phone, "63902", "*".join(self.inputs))
        return asyncio.run(handle_hop(hop, FLOW, self.store, self.services, self.config))


def make_phone(phone: str = PHONE, services: FakeUssdServices | None = None) -> Phone:
    client = fakeredis.FakeAsyncRedis(decode_responses=True)
    store = SessionStore(client, "test:", ttl_s=180, profile_ttl_s=600)
    return Phone(services or FakeUssdServices(), store, phone)
