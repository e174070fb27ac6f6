"""The sandbox's callback sender: POSTs each planned callback when it falls due.

Every callback is sent once, as Daraja sends them: it is marked sent before the POST
and never retried, whatever the receiver answers; the answer (status code, or the
connection error) is recorded and listed by `GET /sandbox/callbacks`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from contextlib import suppress

import httpx

from app.sandboxes.daraja.store import Delivery, Store

log = logging.getLogger("paytrace.sandbox.daraja")

POLL_INTERVAL_S = 0.02
SEND_TIMEOUT_S = 10.0
STOPPED = "not answered: the sandbox stopped while sending"


class CallbackSender:
    """Sends due callbacks concurrently (a slow receiver delays no other callback)."""

    def __init__(self, store: Store, *, poll_interval_s: float = POLL_INTERVAL_S) -> None:
        self.store = store
        self.poll_interval_s = poll_interval_s
        self._sending: set[asyncio.Task] = set()

    async def run(self) -> None:
        """Send callbacks as they fall due, until cancelled."""
        async with httpx.AsyncClient(timeout=SEND_TIMEOUT_S) as client:
            try:
                while True:
                    try:
                        due = await asyncio.to_thread(self.store.claim_due, time.time())
                    except Exception:
                        log.exception("reading due callbacks failed; trying again")
                        due = []
                    for delivery in due:
                        task = asyncio.create_task(self._send(client, delivery))
                        self._sending.add(task)
                        task.add_done_callback(self._sending.discard)
                    await asyncio.sleep(self.poll_interval_s)
            finally:
                for task in list(self._sending):
                    task.cancel()
                with suppress(asyncio.CancelledError):
                    await asyncio.gather(*self._sending, return_exceptions=True)

    async def _send(self, client: httpx.AsyncClient, delivery: Delivery) -> None:
        status_code, error = None, None
        try:
            response = await client.post(
                delivery.url,
                content=json.dumps(delivery.body),
                headers={"Content-Type": "application/json"},
            )
            status_code = response.status_code
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        except asyncio.CancelledError:
            self.store.record_answer(delivery.id, None, STOPPED)
            raise
        if error or status_code >= 300:
            log.warning(
                "callback not accepted",
                extra={"kind": delivery.kind, "status": status_code, "error": error},
            )
        await asyncio.to_thread(self.store.record_answer, delivery.id, status_code, error)
