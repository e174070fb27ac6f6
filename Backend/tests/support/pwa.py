"""A PWA's view of PayTrace: the REST API over real HTTP, codes read from the SMS sandbox.

Codes travel the real way: outbox -> worker -> official AT SDK -> local AT sandbox,
whose inbox the test reads as the user would read their phone.
"""

from __future__ import annotations

import re
import uuid

import httpx

from app.config import Settings
from app.db.pool import Database
from app.worker.outbox import build_worker

_CODE = re.compile(r"PayTrace code: ([0-9]{6})")
_CODE_SW = re.compile(r"Nambari ya PayTrace: ([0-9]{6})")


class Pwa:
    def __init__(self, base_url: str, settings: Settings, database: Database) -> None:
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url + "/api/v1", timeout=10)
        self._worker = build_worker(settings, database)

    def close(self) -> None:
        self.http.close()

    def deliver_sms(self) -> int:
        """Run the outbox worker until nothing is due; returns how many rows it handled."""
        handled = 0
        while (done := self._worker.run_once()) > 0:
            handled += done
        return handled

    def inbox(self, phone: str) -> list[str]:
        response = httpx.get(f"{self.base_url}/sandbox/sms", params={"to": phone}, timeout=10)
        response.raise_for_status()
        return [message["message"] for message in response.json()]

    def codes(self, phone: str) -> list[str]:
        """Every code this phone received, oldest first."""
        self.deliver_sms()
        found = []
        for text in self.inbox(phone):
            match = _CODE.search(text) or _CODE_SW.search(text)
            if match:
                found.append(match.group(1))
        return found

    def ask_code(self, phone: str, purpose: str = "login") -> httpx.Response:
        return self.http.post("/auth/otp", json={"phone": phone, "purpose": purpose})

    def new_code(self, phone: str, purpose: str = "login") -> str:
        """Ask for a code and read it off the phone; fails if none arrived."""
        before = len(self.codes(phone))
        response = self.ask_code(phone, purpose)
        assert response.status_code == 202, response.text
        codes = self.codes(phone)
        assert len(codes) == before + 1, f"no new code reached {phone}"
        return codes[-1]

    def token(self, phone: str, code: str, pin: str) -> httpx.Response:
        return self.http.post("/auth/token", json={"phone": phone, "otp": code, "pin": pin})

    def sign_in(self, phone: str, pin: str) -> dict:
        """Code + PIN -> the token answer (access and refresh tokens)."""
        response = self.token(phone, self.new_code(phone), pin)
        assert response.status_code == 200, response.text
        return response.json()

    def register(self, phone: str, name: str, pin: str, language: str = "en") -> dict:
        code = self.new_code(phone, "register")
        response = self.http.post(
            "/workers/register",
            json={
                "phone": phone,
                "otp": code,
                "full_name": name,
                "pin": pin,
                "language": language,
                "accept_terms": True,
            },
        )
        assert response.status_code == 201, response.text
        return response.json()

    @staticmethod
    def bearer(tokens: dict | str) -> dict[str, str]:
        token = tokens if isinstance(tokens, str) else tokens["access_token"]
        return {"Authorization": f"Bearer {token}"}

    def send(
        self,
        tokens: dict,
        to: str,
        amount: int,
        pin: str,
        key: str | None = None,
        note: str | None = None,
    ) -> httpx.Response:
        body: dict[str, object] = {"to": to, "amount": amount, "pin": pin}
        if note is not None:
            body["note"] = note
        headers = {**self.bearer(tokens), "Idempotency-Key": key or str(uuid.uuid4())}
        return self.http.post("/transfers", json=body, headers=headers)
