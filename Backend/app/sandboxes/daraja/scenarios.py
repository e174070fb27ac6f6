"""What the sandbox's customer and M-Pesa do with a request: its result, and how its
callback is delivered.

A scenario is a result (success, cancelled, timeout, wrong_pin, insufficient_funds,
or, for STK only, `ask`: the prompt waits for the customer's answer, prompts.py) and a
delivery (once, duplicate, none). Rules set through `POST /sandbox/scenarios`
pick it per phone number or per amount; a phone rule beats an amount rule, the newest
rule beats an older one, and without a rule the amount decides (`DEFAULT_RULES`):
amounts under 100 KES always succeed; from 100 KES up, the last two digits choose.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

Api = Literal["stk", "b2c", "b2b"]
# STK only: no result decided on arrival; the prompt waits for the customer (prompts.py).
ASK = "ask"
RESULTS = ("success", "cancelled", "timeout", "wrong_pin", "insufficient_funds", ASK)
DELIVERIES = ("once", "duplicate", "none")

SUCCESS_DESC = "The service request is processed successfully."
WRONG_INITIATOR_DESC = "The initiator information is invalid."
INSUFFICIENT_DESC = "The balance is insufficient for the transaction."
# STK results: the ResultCode and ResultDesc of the callback and of the STK query.
STK_RESULTS: dict[str, tuple[int, str]] = {
    "success": (0, SUCCESS_DESC),
    "cancelled": (1032, "Request cancelled by user"),
    "timeout": (1037, "DS timeout user cannot be reached"),
    "wrong_pin": (2001, WRONG_INITIATOR_DESC),
    "insufficient_funds": (1, INSUFFICIENT_DESC),
}
# B2C has no customer prompt: nothing to cancel, and a timeout is the request timing
# out in M-Pesa's queue (a QueueTimeOutURL notification, nothing paid). A wrong PIN
# is the initiator's: 2001, as for a wrong SecurityCredential.
B2C_RESULTS: dict[str, tuple[int, str]] = {
    "success": (0, SUCCESS_DESC),
    "timeout": (1037, "The request timed out in the M-Pesa queue and was not processed."),
    "wrong_pin": (2001, WRONG_INITIATOR_DESC),
    "insufficient_funds": (1, INSUFFICIENT_DESC),
}
# A Business Pay Bill has the same outcomes as B2C: no prompt, the queue may time out.
_RESULTS_BY_API: dict[str, dict[str, tuple[int, str]]] = {
    "stk": STK_RESULTS,
    "b2c": B2C_RESULTS,
    "b2b": B2C_RESULTS,
}


class BadScenario(ValueError):
    """A scenario rule the sandbox cannot follow."""


@dataclass(frozen=True)
class Scenario:
    result: str = "success"
    delivery: str = "once"


@dataclass(frozen=True)
class Rule:
    """`phone` or `amount` (exactly one) picks requests; `api` narrows it to one API."""

    result: str
    delivery: str = "once"
    phone: str | None = None
    amount: int | None = None
    api: str | None = None
    id: int | None = None

    def applies_to(self, api: Api, phone: str, amount: int) -> bool:
        if self.api not in (None, api):
            return False
        if self.result not in _RESULTS_BY_API[api] and not (api == "stk" and self.result == ASK):
            return False
        return self.phone == phone if self.phone is not None else self.amount == amount

    def to_json(self) -> dict:
        """As `POST /sandbox/scenarios` takes it (the delivery is called `callback`)."""
        fields = asdict(self) | {"callback": self.delivery}
        return {
            key: value for key, value in fields.items() if value is not None and key != "delivery"
        }


# (last two digits, result, delivery) for amounts of 100 KES and more.
DEFAULT_RULES: tuple[tuple[int, str, str], ...] = (
    (1, "wrong_pin", "once"),  # 101, 1001: wrong PIN (2001)
    (11, "insufficient_funds", "once"),  # 111, 2011: insufficient funds (1)
    (32, "cancelled", "once"),  # 132, 1032: cancelled by the customer (1032)
    (37, "timeout", "once"),  # 137, 1037: no answer from the phone (1037)
    (98, "success", "duplicate"),  # 198: success, the callback sent twice
    (99, "success", "none"),  # 199: success, no callback (settled by a query)
)


def default_scenario(api: Api, amount: int) -> Scenario:
    """The scenario an amount chooses when no rule matches."""
    if amount >= 100:
        for ending, result, delivery in DEFAULT_RULES:
            if amount % 100 == ending and result in _RESULTS_BY_API[api]:
                return Scenario(result, delivery)
    return Scenario()


def resolve(rules: list[Rule], api: Api, phone: str, amount: int) -> Scenario:
    """The scenario for a request: newest phone rule, else newest amount rule, else
    the default. `rules` are oldest first."""
    matching = [rule for rule in rules if rule.applies_to(api, phone, amount)]
    if not matching:
        return default_scenario(api, amount)
    by_phone = [rule for rule in matching if rule.phone is not None]
    rule = (by_phone or matching)[-1]
    return Scenario(rule.result, rule.delivery)


def result_for(api: Api, result: str) -> tuple[int, str]:
    """The ResultCode and ResultDesc of `result` on `api`."""
    return _RESULTS_BY_API[api][result]


def parse_rule(body: object) -> Rule:
    """A rule from `POST /sandbox/scenarios`; raises BadScenario."""
    if not isinstance(body, dict):
        raise BadScenario("send a JSON object")
    unknown = set(body) - {"phone", "amount", "result", "callback", "api"}
    if unknown:
        raise BadScenario(f"unknown fields: {', '.join(sorted(unknown))}")
    result, delivery = body.get("result"), body.get("callback", "once")
    if result not in RESULTS:
        raise BadScenario(f"result must be one of {', '.join(RESULTS)}")
    if delivery not in DELIVERIES:
        raise BadScenario(f"callback must be one of {', '.join(DELIVERIES)}")
    api = body.get("api")
    if api not in (None, "stk", "b2c", "b2b"):
        raise BadScenario("api must be stk, b2c or b2b (or absent for all)")
    if api in ("b2c", "b2b") and result in ("cancelled", ASK):
        raise BadScenario("a B2C or B2B payment has no customer prompt to cancel or answer")
    phone, amount = body.get("phone"), body.get("amount")
    if (phone is None) == (amount is None):
        raise BadScenario("give exactly one of phone and amount")
    if phone is not None:
        phone = str(phone).strip().lstrip("+")
        if not (phone.isdigit() and phone.startswith("254") and len(phone) == 12):
            raise BadScenario("phone must be an MSISDN such as 254712345678")
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int)):
        raise BadScenario("amount must be whole shillings")
    return Rule(result=result, delivery=delivery, phone=phone, amount=amount, api=api)
