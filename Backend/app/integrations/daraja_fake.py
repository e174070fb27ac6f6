"""A hand-written fake of the `Daraja` port, for unit tests: records every call and
answers what the test scripted (the local sandbox plays M-Pesa in integration tests)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from app.integrations.daraja import Accepted, DarajaError, Failure, StkAccepted, StkResult


@dataclass
class FakeDaraja:
    """Calls are kept as (api, kwargs). `fail(api, *errors)` makes the next calls of that
    API raise, in order; `stk_results` answers STK queries by CheckoutRequestID."""

    calls: list[tuple[str, dict]] = field(default_factory=list)
    stk_results: dict[str, StkResult] = field(default_factory=dict)
    _failures: dict[str, list[DarajaError]] = field(default_factory=dict)
    _seen_originators: set[str] = field(default_factory=set)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def fail(self, api: str, *errors: DarajaError) -> None:
        self._failures.setdefault(api, []).extend(errors)

    def _call(self, api: str, **kwargs: object) -> int:
        self.calls.append((api, kwargs))
        queued = self._failures.get(api)
        if queued:
            raise queued.pop(0)
        return next(self._ids)

    def stk_push(
        self, *, phone: str, amount: int, reference: str, description: str, callback_url: str
    ) -> StkAccepted:
        n = self._call(
            "stk_push",
            phone=phone,
            amount=amount,
            reference=reference,
            description=description,
            callback_url=callback_url,
        )
        return StkAccepted(f"fake-merchant-{n}", f"ws_CO_fake_{n}")

    def stk_query(self, checkout_request_id: str) -> StkResult:
        self._call("stk_query", checkout_request_id=checkout_request_id)
        result = self.stk_results.get(checkout_request_id)
        if result is None:
            raise DarajaError(Failure.RETRYABLE, "The transaction is being processed", status=500)
        return result

    def b2c(self, *, originator_conversation_id: str, **kwargs: object) -> Accepted:
        n = self._call("b2c", originator_conversation_id=originator_conversation_id, **kwargs)
        if originator_conversation_id in self._seen_originators:
            raise DarajaError(
                Failure.PERMANENT, "Bad Request - Duplicate OriginatorConversationID", status=400
            )
        self._seen_originators.add(originator_conversation_id)
        return Accepted(f"AG_fake_{n}", originator_conversation_id)

    def transaction_status(self, *, originator_conversation_id: str, **kwargs: object) -> Accepted:
        n = self._call(
            "transaction_status", originator_conversation_id=originator_conversation_id, **kwargs
        )
        return Accepted(f"AG_status_{n}", f"fake-query-{n}")

    def apis(self) -> list[str]:
        return [api for api, _ in self.calls]
