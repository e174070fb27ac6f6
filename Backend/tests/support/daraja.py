"""PayTrace's local Daraja sandbox for tests: served over real HTTP, a client that
speaks Daraja's API as an integrator does, and a receiver for its callbacks."""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from app.sandboxes.daraja import SandboxConfig, create_app
from app.sandboxes.daraja.identifiers import daraja_time
from tests.conftest import LiveServer, free_port


@contextmanager
def daraja_sandbox(data_dir: Path, **config: object) -> Iterator[LiveServer]:
    """The sandbox on a free port; `config` overrides SandboxConfig's defaults (its
    callbacks come after 0.1 s unless told otherwise)."""
    settings = SandboxConfig(**{"callback_delay_s": 0.1, **config})
    with LiveServer(create_app(data_dir, settings), free_port()) as server:
        yield server


class CallbackReceiver:
    """An HTTP server that records every JSON POST, by path; answers 200 unless told."""

    def __init__(self) -> None:
        self._received: list[tuple[str, dict]] = []
        self._answers: dict[str, int] = {}
        self._bodies: dict[str, dict] = {}
        self._lock = threading.Lock()
        self.app = FastAPI()
        self.app.add_api_route("/{path:path}", self._receive, methods=["POST"])
        self.server: LiveServer | None = None

    async def _receive(self, path: str, request: Request) -> Response:
        body = await request.json()
        with self._lock:
            self._received.append(("/" + path, body))
        status = self._answers.get("/" + path, 200)
        if "/" + path in self._bodies:
            return JSONResponse(self._bodies["/" + path], status_code=status)
        return Response(status_code=status)

    def __enter__(self) -> CallbackReceiver:
        self.server = LiveServer(self.app, free_port()).__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.__exit__(*exc)

    def url(self, path: str) -> str:
        assert self.server is not None
        return self.server.url + path

    def answer(self, path: str, status: int, body: dict | None = None) -> None:
        self._answers[path] = status
        if body is not None:
            self._bodies[path] = body

    def received(self, path: str) -> list[dict]:
        with self._lock:
            return [body for got, body in self._received if got == path]

    def wait_for(self, path: str, count: int = 1, timeout_s: float = 5.0) -> list[dict]:
        """The bodies POSTed to `path` once there are `count` of them."""
        deadline = time.monotonic() + timeout_s
        while len(bodies := self.received(path)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(bodies)} callbacks to {path}, wanted {count}")
            time.sleep(0.01)
        return bodies


class DarajaClient:
    """Calls the sandbox as an integrator calls Daraja: OAuth, then JSON with a bearer."""

    def __init__(self, base_url: str, config: SandboxConfig | None = None) -> None:
        self.base_url = base_url
        self.config = config or SandboxConfig()
        self.http = httpx.Client(base_url=base_url, timeout=10)
        self._token: str | None = None

    def oauth(self, key: str | None = None, secret: str | None = None) -> httpx.Response:
        basic = f"{key or self.config.consumer_key}:{secret or self.config.consumer_secret}"
        return self.http.get(
            "/oauth/v1/generate",
            params={"grant_type": "client_credentials"},
            headers={"Authorization": "Basic " + base64.b64encode(basic.encode()).decode()},
        )

    def token(self) -> str:
        if self._token is None:
            answer = self.oauth()
            assert answer.status_code == 200, answer.text
            self._token = answer.json()["access_token"]
        return self._token

    def post(self, path: str, body: dict, token: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.token()}"}
        return self.http.post(path, json=body, headers=headers)

    def stk_body(self, phone: str, amount: int, callback_url: str, **overrides: object) -> dict:
        timestamp = daraja_time(time.time())
        return {
            "BusinessShortCode": self.config.shortcode,
            "Password": self.config.stk_password(timestamp),
            "Timestamp": timestamp,
            "TransactionType": "CustomerPayBillOnline",
            "Amount": amount,
            "PartyA": phone,
            "PartyB": self.config.shortcode,
            "PhoneNumber": phone,
            "CallBackURL": callback_url,
            "AccountReference": "PayTrace",
            "TransactionDesc": "Deposit",
            **overrides,
        }

    def stk_push(self, phone: str, amount: int, callback_url: str, **overrides) -> httpx.Response:
        body = self.stk_body(phone, amount, callback_url, **overrides)
        return self.post("/mpesa/stkpush/v1/processrequest", body)

    def stk_query(self, checkout_request_id: str, **overrides: object) -> httpx.Response:
        timestamp = daraja_time(time.time())
        body = {
            "BusinessShortCode": self.config.shortcode,
            "Password": self.config.stk_password(timestamp),
            "Timestamp": timestamp,
            "CheckoutRequestID": checkout_request_id,
            **overrides,
        }
        return self.post("/mpesa/stkpushquery/v1/query", body)

    def b2c_body(self, phone: str, amount: int, result_url: str, timeout_url: str, **overrides):
        return {
            "OriginatorConversationID": str(uuid.uuid4()),
            "InitiatorName": self.config.initiator_name,
            "SecurityCredential": self.config.security_credential,
            "CommandID": "BusinessPayment",
            "Amount": amount,
            "PartyA": self.config.b2c_shortcode,
            "PartyB": phone,
            "Remarks": "PayTrace withdrawal",
            "QueueTimeOutURL": timeout_url,
            "ResultURL": result_url,
            "Occasion": "",
            **overrides,
        }

    def b2c(self, phone: str, amount: int, result_url: str, timeout_url: str, **overrides):
        body = self.b2c_body(phone, amount, result_url, timeout_url, **overrides)
        return self.post("/mpesa/b2c/v3/paymentrequest", body)

    def status(self, result_url: str, timeout_url: str, **lookup: str) -> httpx.Response:
        body = {
            "Initiator": self.config.initiator_name,
            "SecurityCredential": self.config.security_credential,
            "CommandID": "TransactionStatusQuery",
            "PartyA": self.config.b2c_shortcode,
            "IdentifierType": "4",
            "ResultURL": result_url,
            "QueueTimeOutURL": timeout_url,
            "Remarks": "reconciliation",
            "Occasion": "",
            **lookup,
        }
        return self.post("/mpesa/transactionstatus/v1/query", body)

    def register_c2b(
        self, confirmation_url: str, validation_url: str, **overrides
    ) -> httpx.Response:
        body = {
            "ShortCode": self.config.shortcode,
            "ResponseType": "Completed",
            "ConfirmationURL": confirmation_url,
            "ValidationURL": validation_url,
            **overrides,
        }
        return self.post("/mpesa/c2b/v1/registerurl", body)

    def simulate_c2b(self, phone: str, amount: int, bill_ref: str, **overrides) -> httpx.Response:
        body = {
            "ShortCode": self.config.shortcode,
            "CommandID": "CustomerPayBillOnline",
            "Amount": amount,
            "Msisdn": phone,
            "BillRefNumber": bill_ref,
            **overrides,
        }
        return self.post("/mpesa/c2b/v1/simulate", body)

    def scenario(self, **rule: object) -> dict:
        answer = self.http.post("/sandbox/scenarios", json=rule)
        assert answer.status_code == 201, answer.text
        return answer.json()

    def callbacks(self, reference: str) -> list[dict]:
        return self.http.get("/sandbox/callbacks", params={"reference": reference}).json()

    def delivered(self, reference: str, count: int, timeout_s: float = 5.0) -> list[dict]:
        """The callbacks sent for `reference` once `count` of them have been answered: the
        receiver holds a body before the sandbox has recorded the answer to it."""
        deadline = time.monotonic() + timeout_s
        while True:
            sent = self.callbacks(reference)
            if sum(s["status_code"] is not None for s in sent) >= count:
                return sent
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(sent)} callbacks for {reference}: {sent}")
            time.sleep(0.01)


def items(stk_callback: dict) -> dict:
    """An STK callback's CallbackMetadata as {Name: Value}, read by name."""
    metadata = stk_callback["Body"]["stkCallback"].get("CallbackMetadata", {"Item": []})
    return {item["Name"]: item.get("Value") for item in metadata["Item"]}


def parameters(result: dict) -> dict:
    """A Result envelope's ResultParameters as {Key: Value}, read by key."""
    listed = result["Result"].get("ResultParameters", {"ResultParameter": []})
    return {param["Key"]: param.get("Value") for param in listed["ResultParameter"]}


def reversal_body(config: SandboxConfig, trans_id: str, amount: int, result_url: str) -> dict:
    """A Transaction Reversal request of a paybill payment, as Daraja takes it."""
    return {
        "Initiator": config.initiator_name,
        "SecurityCredential": config.security_credential,
        "CommandID": "TransactionReversal",
        "TransactionID": trans_id,
        "Amount": amount,
        "ReceiverParty": config.shortcode,
        "RecieverIdentifierType": "11",
        "ResultURL": result_url,
        "QueueTimeOutURL": result_url,
        "Remarks": "PayTrace return",
        "Occasion": "",
    }


def b2b_body(
    config: SandboxConfig,
    paybill: str,
    account: str,
    amount: int,
    result_url: str,
    timeout_url: str,
) -> dict:
    """A Business Pay Bill request to a biller's paybill, as Daraja takes it."""
    return {
        "Initiator": config.initiator_name,
        "SecurityCredential": config.security_credential,
        "CommandID": "BusinessPayBill",
        "SenderIdentifierType": "4",
        "RecieverIdentifierType": "4",
        "Amount": amount,
        "PartyA": config.b2c_shortcode,
        "PartyB": paybill,
        "AccountReference": account,
        "Requester": "254712345678",
        "Remarks": "PayTrace bill",
        "QueueTimeOutURL": timeout_url,
        "ResultURL": result_url,
    }
