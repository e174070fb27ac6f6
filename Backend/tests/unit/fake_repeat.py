""" "Repeat monthly" in the fake USSD services: a monthly schedule of a payment the
owner has just made, as services/schedules/repeat.py makes it (the payment's key the
proof of the PIN, then manage.create's checks a USSD journey can meet, in its order).
Held to ChannelServices by tests/integration/test_ussd_port_contract.py."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.domain import schedules as rules
from app.domain.money import nairobi_day
from app.domain.phone import local
from app.domain.records.schedules import ACTIVE, PAUSED
from app.errors import BillerUnavailable, IdempotencyConflict, RecipientNotRegistered, refused
from app.services.ledger import check_amount
from app.services.schedules.manage import MAX_LIVE, Created, NewSchedule
from app.services.schedules.repeat import PAID_SCOPE
from app.services.transfers import MAX_TRANSFER


class FakeRepeat:
    # Provided by FakeUssdServices and its other parts.
    calls: list[str]
    users: dict[str, Any]
    results: dict[str, Any]
    open_rails: tuple[str, ...]
    _schedules: Any
    _schedule_keys: Any
    _store_schedule: Any
    _bill_state: Any
    _biller: Any
    _account: Any
    _bill_amount: Any

    def _paid(self, new: NewSchedule, key: str) -> bool:
        """The owner's payment under `key` paid this payee this amount."""
        if new.kind == "transfer":
            asked = self.results.get(key, ((None,),))[0]
            return asked[0] == new.owner_user_id and asked[1:3] == (new.payee, new.amount)
        found = self._bill_state()["by_key"].get((new.owner_user_id, key))
        if found is None:
            return False
        _, code, account, amount = found[0]
        return (f"{code}:{account}", amount) == (new.payee, new.amount)

    def _repeat_payee(self, new: NewSchedule) -> tuple[str, str]:
        """The payee's key and name, checked as the kind's executor checks them."""
        if new.kind == "transfer":
            payee = self.users.get(new.payee)
            if payee is None:
                raise RecipientNotRegistered("this number is not registered with PayTrace")
            if payee.user_id == new.owner_user_id:
                raise refused("send_to_self", "you cannot send money to yourself")
            return payee.phone, payee.full_name
        code, sep, raw = new.payee.partition(":")
        if not sep or not code or not raw:
            raise refused("invalid_payee", "payee: <biller code>:<account>")
        biller = self._biller(code)
        if (biller.category == "airtime") != (new.kind == "airtime"):
            raise refused("invalid_payee", f"a {new.kind} biller is required")
        account = self._account(biller, raw)
        self._bill_amount(biller, new.amount)
        if biller.rail not in self.open_rails:
            raise BillerUnavailable(f"{biller.name} cannot be paid yet")
        shown = local(account) if account.startswith("+") else account
        return f"{biller.code}:{account}", f"{biller.name} {shown}"

    async def repeat_payment(self, new: NewSchedule, *, paid_key: str) -> Created:
        self.calls.append("repeat_payment")
        if new.kind not in PAID_SCOPE:
            raise refused("invalid_kind", "not a repeatable kind")
        if not self._paid(new, paid_key):
            raise refused("not_paid", "no payment of yours under this key to repeat")
        check_amount(new.amount, maximum=MAX_TRANSFER)
        rule = rules.Recurrence(new.frequency, new.day, new.at_time, new.start_date)
        try:
            rules.check(rule)
        except rules.InvalidSchedule:
            raise refused("invalid_schedule", "invalid schedule") from None
        if new.start_date < nairobi_day(datetime.now(UTC)):
            raise refused("invalid_start", "start: today or later")
        keys = self._schedule_keys()
        earlier = keys.get((new.owner_user_id, new.idempotency_key))
        if earlier is not None:
            if earlier[1] != new:
                raise IdempotencyConflict("this idempotency key was used for another schedule")
            return Created(self._schedules()[earlier[0]], replayed=True)
        payee, name = self._repeat_payee(new)
        live = [
            s
            for s in self._schedules().values()
            if s.owner_user_id == new.owner_user_id and s.status in (ACTIVE, PAUSED)
        ]
        if len(live) >= MAX_LIVE:
            raise refused("too_many_schedules", f"at most {MAX_LIVE} scheduled payments")
        made = self._store_schedule(
            new.owner_user_id, new.kind, payee, name, new.amount, frequency=new.frequency,
            day=new.day, at=new.at_time, start=new.start_date,
        )  # fmt: skip
        keys[(new.owner_user_id, new.idempotency_key)] = (made.id, new)
        return Created(made, replayed=False)
