"""Speaks to PayTrace exactly as Africa's Talking does: form posts, cumulative text."""

from __future__ import annotations

import uuid

import httpx


class AtGateway:
    def __init__(self, base_url: str, phone: str, service_code: str = "*384*123#") -> None:
        self.base_url = base_url
        self.phone = phone
        self.service_code = service_code
        self.session_id = ""
        self.inputs: list[str] = []
        self.client = httpx.Client(timeout=10)

    def dial(self) -> str:
        self.session_id = f"ATUid_{uuid.uuid4().hex}"
        self.inputs = []
        return self.hop()

    def send(self, value: str) -> str:
        self.inputs.append(value)
        return self.hop()

    def hop(self, path: str = "/ussd", **headers: str) -> str:
        response = self.client.post(
            f"{self.base_url}{path}",
            data={
                "sessionId": self.session_id,
                "serviceCode": self.service_code,
                "phoneNumber": self.phone,
                "networkCode": "63902",
                "text": "*".join(self.inputs),
            },
            headers=headers,
        )
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain")
        return response.text

    def walk(self, *values: str) -> str:
        screen = self.dial()
        for value in values:
            screen = self.send(value)
        return screen
