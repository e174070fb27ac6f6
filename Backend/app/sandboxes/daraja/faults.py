"""Hostile answers on demand: the sandbox's next answer(s) of one API go wrong as
Daraja's sometimes do, so that PayTrace's handling of each can be tested.

A fault is one-shot (or `count`-shot) and kept in memory only (a restart clears it):

* `http_400` / `http_500` - Daraja's error body (`400.002.02` Bad Request,
  `500.003.02` System is busy) instead of the answer;
* `timeout` - the answer is held for `delay_s` (longer than the caller waits);
* `after_send` (B2C, B2B, STK push) - the request is processed first (M-Pesa has it, the
  payment or prompt happens), then the answer is lost as above: an unclear answer;
* `no_metadata` (api `stk_callback`) - the next paid STK callback comes without
  its CallbackMetadata, as a truncated or forged one would.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass

from app.sandboxes.daraja.errors import DarajaError
from app.sandboxes.daraja.scenarios import BadScenario

APIS = ("stk_push", "stk_query", "b2c", "b2b", "status_query", "stk_callback")
KINDS = ("http_400", "http_500", "timeout", "no_metadata")


@dataclass(frozen=True)
class Fault:
    api: str
    fault: str
    after_send: bool = False
    count: int = 1
    delay_s: float = 30.0

    def error(self) -> DarajaError:
        """The Daraja error body this fault answers with (http_400 / http_500)."""
        if self.fault == "http_400":
            return DarajaError(400, "400.002.02", "Bad Request - Invalid Request")
        return DarajaError(500, "500.003.02", "System is busy, please try again later")


def parse_fault(body: object) -> Fault:
    """A fault from its JSON; raises BadScenario (a ValueError)."""
    if not isinstance(body, dict):
        raise BadScenario("send a JSON object")
    api, kind = body.get("api"), body.get("fault")
    if api not in APIS:
        raise BadScenario(f"api must be one of {', '.join(APIS)}")
    allowed = ("no_metadata",) if api == "stk_callback" else KINDS[:3]
    if kind not in allowed:
        raise BadScenario(f"fault must be one of {', '.join(allowed)} for {api}")
    count, delay = body.get("count", 1), body.get("delay_s", 30.0)
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 100:
        raise BadScenario("count must be 1 to 100")
    if not isinstance(delay, int | float) or isinstance(delay, bool) or not 0 <= delay <= 300:
        raise BadScenario("delay_s must be 0 to 300")
    after_send = body.get("after_send", False) is True
    return Fault(api, kind, after_send and api in ("stk_push", "b2c", "b2b"), count, float(delay))


class Faults:
    """The pending faults, oldest first; thread-safe."""

    def __init__(self) -> None:
        self._pending: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._pending.append(fault)

    def take(self, api: str) -> Fault | None:
        """The oldest fault for this API, used up by one answer."""
        with self._lock:
            for i, fault in enumerate(self._pending):
                if fault.api == api:
                    if fault.count > 1:
                        self._pending[i] = Fault(**{**asdict(fault), "count": fault.count - 1})
                    else:
                        del self._pending[i]
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()

    def listed(self) -> list[dict]:
        with self._lock:
            return [asdict(f) for f in self._pending]
