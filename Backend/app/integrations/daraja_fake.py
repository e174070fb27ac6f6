"""A hand-written fake of the `Daraja` port, for unit tests: records every call and
answers what the test scripted (the local sandbox plays M-Pesa in integration tests).

tests/integration/test_daraja_port_contract.py holds it to `DarajaClient` over the
sandbox: what it answers, and how it refuses, is what the real adapter reports.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

from app.integrations.daraja import Accepted, DarajaError, Failure, StkAccepted, StkResult

# What the customer can do with an STK prompt, as the query reports it (M-Pesa's
# ResultCode, a string in the query's answer, and its ResultDesc).
CUSTOMER_ANSWERS: dict[str, StkResult] = {
    "paid": StkResult("0", "The service request is processed successfully."),
    "cancelled": StkResult("1032", "Request cancelled by user"),
    "unreachable": StkResult("1037", "DS timeout user cannot be reached"),
    "wrong_pin": StkResult("2001", "The initiator information is invalid."),
    "insufficient_funds": StkResult("1", "The balance is insufficient for the transaction."),
}


# A biller knows no account ending so (as the sandbox: app/sandboxes/daraja/b2b.py).
UNKNOWN_ACCOUNT_SUFFIX = "0000"

# Daraja refuses registered URLs naming these (its documentation lists them).
FORBIDDEN_IN_URL = re.compile(r"m-?pesa|safaricom|exe|cmd|sql|query", re.IGNORECASE)


def being_processed() -> DarajaError:
    """An STK query before the customer has answered (Daraja's 500 `500.001.1001`)."""
    return DarajaError(
        Failure.RETRYABLE, "The transaction is being processed", status=500, code="500.001.1001"
    )


def bad_request(field_name: str = "Request") -> DarajaError:
    """Daraja's 400 `400.002.02`: refused as sent, it never takes effect."""
    return DarajaError(
        Failure.PERMANENT, f"Bad Request - Invalid {field_name}", status=400, code="400.002.02"
    )


def system_busy() -> DarajaError:
    """Daraja's 500 `500.003.02`: it may have been accepted."""
    return DarajaError(
        Failure.AMBIGUOUS, "System is busy, please try again later", status=500, code="500.003.02"
    )


def no_answer() -> DarajaError:
    """The answer never came back in time (a read timeout): it may have been accepted."""
    return DarajaError(Failure.AMBIGUOUS, "no answer: ReadTimeout")


def duplicate() -> DarajaError:
    """A B2C whose OriginatorConversationID was used before."""
    return DarajaError(
        Failure.PERMANENT,
        "Bad Request - Duplicate OriginatorConversationID",
        status=400,
        code="400.002.02",
    )


@dataclass
class FakeDaraja:
    """Calls are kept as (api, kwargs). `fail(api, *errors)` makes the next calls of that
    API raise, in order, without taking effect (`after_send=True`: they take effect and
    then raise, an answer lost on its way back). `answer(checkout_request_id, "paid")`
    (or a key of CUSTOMER_ANSWERS) is the customer answering a push; until then its
    query is `being_processed`. `stk_results` may also be set directly."""

    calls: list[tuple[str, dict]] = field(default_factory=list)
    stk_results: dict[str, StkResult] = field(default_factory=dict)
    _failures: dict[str, list[tuple[DarajaError, bool]]] = field(default_factory=dict)
    _pushed: set[str] = field(default_factory=set)
    _seen_originators: set[str] = field(default_factory=set)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    c2b_urls: tuple[str, str, str] | None = None  # the last registration taken
    holders: dict[str, str] = field(default_factory=dict)  # account -> holder's name

    def fail(self, api: str, *errors: DarajaError, after_send: bool = False) -> None:
        self._failures.setdefault(api, []).extend((error, after_send) for error in errors)

    def answer(self, checkout_request_id: str, answer: str = "paid") -> None:
        self.stk_results[checkout_request_id] = CUSTOMER_ANSWERS[answer]

    def _call(self, api: str, **kwargs: object) -> tuple[int, DarajaError | None]:
        """The call's number, and the error to raise after it took effect (if any);
        raises a scripted error that stops it taking effect."""
        self.calls.append((api, kwargs))
        queued = self._failures.get(api)
        if queued:
            error, after_send = queued.pop(0)
            if not after_send:
                raise error
            return next(self._ids), error
        return next(self._ids), None

    def stk_push(
        self, *, phone: str, amount: int, reference: str, description: str, callback_url: str
    ) -> StkAccepted:
        n, lost = self._call(
            "stk_push",
            phone=phone,
            amount=amount,
            reference=reference,
            description=description,
            callback_url=callback_url,
        )
        accepted = StkAccepted(f"fake-merchant-{n}", f"ws_CO_fake_{n}")
        self._pushed.add(accepted.checkout_request_id)
        if lost is not None:
            raise lost
        return accepted

    def stk_query(self, checkout_request_id: str) -> StkResult:
        self._call("stk_query", checkout_request_id=checkout_request_id)
        result = self.stk_results.get(checkout_request_id)
        if result is not None:
            return result
        if checkout_request_id in self._pushed:
            raise being_processed()
        raise bad_request("CheckoutRequestID")  # no push has this id

    def b2c(self, *, originator_conversation_id: str, **kwargs: object) -> Accepted:
        n, lost = self._call("b2c", originator_conversation_id=originator_conversation_id, **kwargs)
        if originator_conversation_id in self._seen_originators:
            raise duplicate()
        self._seen_originators.add(originator_conversation_id)
        if lost is not None:
            raise lost
        return Accepted(f"AG_fake_{n}", originator_conversation_id)

    def transaction_status(
        self, *, originator_conversation_id: str = "", transaction_id: str = "", **kwargs: object
    ) -> Accepted:
        if not originator_conversation_id and not transaction_id:
            self._call("transaction_status", **kwargs)
            raise bad_request("TransactionID")
        n, lost = self._call(
            "transaction_status",
            originator_conversation_id=originator_conversation_id,
            transaction_id=transaction_id,
            **kwargs,
        )
        if lost is not None:
            raise lost
        return Accepted(f"AG_status_{n}", f"fake-query-{n}")

    def reverse(self, *, transaction_id: str, amount: int, **kwargs: object) -> Accepted:
        n, lost = self._call("reverse", transaction_id=transaction_id, amount=amount, **kwargs)
        if lost is not None:
            raise lost
        return Accepted(f"AG_reversal_{n}", f"fake-reversal-{n}")

    def pay_bill(self, *, paybill: str, account: str, amount: int, **kwargs: object) -> Accepted:
        n, lost = self._call("pay_bill", paybill=paybill, account=account, amount=amount, **kwargs)
        if lost is not None:
            raise lost
        return Accepted(f"AG_b2b_{n}", f"fake-b2b-{n}")

    def bill_account(self, *, paybill: str, account: str) -> str | None:
        self._call("bill_account", paybill=paybill, account=account)
        if account.endswith(UNKNOWN_ACCOUNT_SUFFIX):
            return None
        return self.holders.get(account, "JANE W.")

    def register_c2b_urls(
        self, *, confirmation_url: str, validation_url: str, response_type: str
    ) -> None:
        self._call(
            "register_c2b_urls",
            confirmation_url=confirmation_url,
            validation_url=validation_url,
            response_type=response_type,
        )
        for url in (confirmation_url, validation_url):
            if FORBIDDEN_IN_URL.search(url):
                raise bad_request("ConfirmationURL" if url == confirmation_url else "ValidationURL")
        if response_type not in ("Completed", "Cancelled"):
            raise bad_request("ResponseType")
        self.c2b_urls = (confirmation_url, validation_url, response_type)

    def apis(self) -> list[str]:
        return [api for api, _ in self.calls]
