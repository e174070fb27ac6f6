"""The harness of the port contracts: each scenario runs on the fake and on the real
adapter, and its observable results (values, refusals and their details) must be the
same on both, so a fake cannot drift from what it stands in for.

tests/unit drive the USSD flow (its Harambee branch included) with FakeUssdServices
(tests/unit/fakes.py); in production it runs on ChannelServices, the facade both
channels call, over PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

import redis.asyncio as aioredis

from app.db.unit_of_work import UnitOfWork
from app.domain.money import nairobi_day
from app.errors import PayTraceError
from app.runtime import Runtime
from app.services.facade import ChannelServices
from app.services.pins import PinPolicy
from app.services.schedules import manage
from app.ussd.ports import UssdServices
from tests.support import seeds
from tests.support.wallets import fund, registration_secrets
from tests.support.wallets import register as register_user
from tests.unit.fakes import FakeUssdServices

PIN, WRONG = "4821", "9356"
AMINA, BARAKA, CHEPTOO = "+254711000201", "+254711000202", "+254711000203"
BASIC = seeds.tier(1)
TRANSFER_BANDS = seeds.fee_bands("transfer")
# Each band's edges a basic user may send, and the first cent above the tier's limit.
BAND_EDGES = sorted(
    {edge for b in TRANSFER_BANDS for edge in (b.min_amount, b.max_amount)}
    | {BASIC.per_transaction, BASIC.per_transaction + 1}
)
BAND_EDGES = [amount for amount in BAND_EDGES if amount <= BASIC.per_transaction + 1]


@dataclass
class Side:
    """A port and the means to arrange what the scenario needs on its side."""

    port: UssdServices
    add_user: Callable[[str, str], int]  # (phone, name) -> user id, PIN is PIN
    fund: Callable[[str, int], None]  # (phone, cents)
    # (owner id, payee phone, cents) -> the id of an active monthly transfer schedule
    add_schedule: Callable[[int, str, int], int]


def run(make_side: Callable[[], Awaitable[Side]], scenario) -> Any:
    """scenario(side) in one event loop, the loop the real adapter's clients bind to."""

    async def main() -> Any:
        side = await make_side()
        try:
            return await scenario(side)
        finally:
            runtime = getattr(side.port, "runtime", None)
            if runtime is not None:
                await runtime.redis.aclose()

    return asyncio.run(main())


def make_sides(request) -> dict[str, Callable[[], Awaitable[Side]]]:
    """The fake and the real adapter, each made fresh for one scenario."""

    async def fake() -> Side:
        services = FakeUssdServices(PinPolicy())  # the settings' defaults, as the real one

        def add(phone: str, name: str) -> int:
            return services.add_user(phone, name, PIN).user_id

        def schedule(owner: int, to: str, cents: int) -> int:
            return services.add_schedule(owner, services.users[to].user_id, cents).id

        return Side(services, add, services.cash_in, schedule)

    settings = request.getfixturevalue("settings")
    database = request.getfixturevalue("clean_database")
    assert PinPolicy.from_settings(settings) == PinPolicy()
    box, pin_hash = registration_secrets(settings, PIN)

    async def real() -> Side:
        client = aioredis.Redis.from_url(settings.redis_url, decode_responses=True)
        runtime = Runtime(settings=settings, database=database, redis=client)

        def add(phone: str, name: str) -> int:
            return register_user(database, box, pin_hash, phone=phone, name=name)

        def cash_in(phone: str, cents: int) -> None:
            fund(database, phone, cents)

        def schedule(owner: int, to: str, cents: int) -> int:
            now = datetime.now(UTC)
            new = manage.NewSchedule(
                owner_user_id=owner, kind="transfer", payee=to, amount=cents,
                frequency="monthly", day=31, at_time=time(9, 0), start_date=nairobi_day(now),
                idempotency_key=f"contract:{owner}:{to}:{cents}", channel="ussd",
            )  # fmt: skip
            return manage.create(UnitOfWork(database), new, now).schedule.id

        return Side(ChannelServices(runtime), add, cash_in, schedule)

    return {"fake": fake, "real": real}


def observe(sides, scenario) -> Any:
    """The scenario's result, the same on the fake and on the real adapter."""
    fake = run(sides["fake"], scenario)
    real = run(sides["real"], scenario)
    assert fake == real, f"the fake answers {fake!r}, the real adapter {real!r}"
    return real


async def outcome(call: Awaitable[Any]) -> Any:
    """What a caller observes: the value, or the refusal with its details."""
    try:
        return await call
    except PayTraceError as refused:
        details = ("code", "attempts_left", "limit", "allowed", "balance", "needed")
        seen = {name: getattr(refused, name) for name in details if hasattr(refused, name)}
        return type(refused).__name__, seen


async def lift_lock(side: Side, user_id: int) -> None:
    """Let a timed lock run out, as the clock would."""
    if isinstance(side.port, FakeUssdServices):
        side.port.lift_lock(user_id)
        return
    assert isinstance(side.port, ChannelServices)
    database = side.port.runtime.database
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE user_credentials SET locked_until = now() - interval '1 second'"
            " WHERE user_id = %s",
            (user_id,),
        )
        conn.commit()
