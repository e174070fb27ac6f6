"""One contract per USSD port, run against the fake and the real adapter alike.

tests/unit drive the USSD flow with FakeUssdServices (tests/unit/fakes.py); the
flow in production runs on RuntimeUssdServices over PostgreSQL. Each scenario here
runs on both and asserts the same observable results (values, refusals and their
details), so the fake cannot drift from what it stands in for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis

from app.errors import PayTraceError, PinLocked, PinResetRequired
from app.runtime import Runtime
from app.services.pins import PinPolicy
from app.ussd.adapter import RuntimeUssdServices
from app.ussd.ports import UssdServices
from app.ussd.session_store import SessionStore
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


def run(make_side: Callable[[], Awaitable[Side]], scenario) -> Any:
    """scenario(side) in one event loop, the loop the real adapter's clients bind to."""

    async def main() -> Any:
        side = await make_side()
        try:
            return await scenario(side)
        finally:
            runtime = getattr(side.port, "_runtime", None)
            if runtime is not None:
                await runtime.redis.aclose()

    return asyncio.run(main())


@pytest.fixture
def sides(request) -> dict[str, Callable[[], Awaitable[Side]]]:
    """The fake and the real adapter, each made fresh for one scenario."""

    async def fake() -> Side:
        services = FakeUssdServices(PinPolicy())  # the settings' defaults, as the real one

        def add(phone: str, name: str) -> int:
            return services.add_user(phone, name, PIN)["user_id"]

        return Side(services, add, services.cash_in)

    settings = request.getfixturevalue("settings")
    database = request.getfixturevalue("clean_database")
    assert PinPolicy.from_settings(settings) == PinPolicy()
    box, pin_hash = registration_secrets(settings, PIN)

    async def real() -> Side:
        client = aioredis.Redis.from_url(settings.redis_url, decode_responses=True)
        runtime = Runtime(settings=settings, database=database, redis=client)
        store = SessionStore(client, settings.redis_prefix, ttl_s=60, profile_ttl_s=60)

        def add(phone: str, name: str) -> int:
            return register_user(database, box, pin_hash, phone=phone, name=name)

        def cash_in(phone: str, cents: int) -> None:
            fund(database, phone, cents)

        return Side(RuntimeUssdServices(runtime, store), add, cash_in)

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


# ---- the seeds the fakes read ----------------------------------------------------


def test_the_seeds_tests_read_are_what_the_migrations_put_in_postgresql(clean_database):
    with clean_database.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT kind, min_amount, max_amount, fee FROM fee_bands")
        bands = {seeds.FeeBand(*row) for row in cur.fetchall()}
        cur.execute(
            "SELECT tier, name, per_transaction_limit, daily_limit, rolling_30_day_limit"
            " FROM kyc_tiers"
        )
        tiers = {seeds.Tier(*row) for row in cur.fetchall()}
        conn.rollback()
    assert bands == set(seeds.fee_bands("transfer") + seeds.fee_bands("withdrawal"))
    assert tiers == {seeds.tier(n) for n in (1, 2, 3)}


# ---- USSD port ---------------------------------------------------------------------


@pytest.mark.parametrize("amount", BAND_EDGES)
def test_a_quote_at_each_band_edge(sides, amount):
    async def scenario(side: Side):
        amina = side.add_user(AMINA, "Amina Njeri")
        side.fund(AMINA, BASIC.per_transaction + 100_000)
        return await outcome(side.port.quote_transfer(sender_user_id=amina, amount=amount))

    got = observe(sides, scenario)
    if amount > BASIC.per_transaction:
        assert got == ("LimitExceeded", {"code": "limit_exceeded", "limit": "per_transaction",
                                         "allowed": BASIC.per_transaction})  # fmt: skip
    else:
        fee = seeds.fee("transfer", amount)
        assert (got.amount, got.fee, got.balance) == (amount, fee, BASIC.per_transaction + 100_000)


@pytest.mark.parametrize("amount", [0, -100, BASIC.daily + 1, TRANSFER_BANDS[-1].max_amount + 1])
def test_a_quote_of_an_amount_no_one_may_send(sides, amount):
    async def scenario(side: Side):
        amina = side.add_user(AMINA, "Amina Njeri")
        side.fund(AMINA, 1_000_000)
        return await outcome(side.port.quote_transfer(sender_user_id=amina, amount=amount))

    refused = observe(sides, scenario)
    assert refused[0] in ("ValidationFailed", "LimitExceeded")


def test_a_quote_beyond_the_balance(sides):
    async def scenario(side: Side):
        amina = side.add_user(AMINA, "Amina Njeri")
        side.fund(AMINA, 50_000)
        return await outcome(side.port.quote_transfer(sender_user_id=amina, amount=50_000))

    fee = seeds.fee("transfer", 50_000)
    needed = {"code": "insufficient_funds", "balance": 50_000, "needed": 50_000 + fee}
    assert observe(sides, scenario) == ("InsufficientFunds", needed)


def test_a_transfer_moves_the_money_once_per_key(sides):
    async def scenario(side: Side):
        amina = side.add_user(AMINA, "Amina Njeri")
        baraka = side.add_user(BARAKA, "Baraka Mwangi")
        side.fund(AMINA, 1_000_000)
        send = dict(sender_user_id=amina, recipient_phone=BARAKA, amount=100_000, pin=PIN)
        sent = await side.port.send_money(**send, key="k1")
        again = await side.port.send_money(**send, key="k1")
        reused = await outcome(side.port.send_money(**{**send, "amount": 1_000}, key="k1"))
        unknown = await outcome(
            side.port.send_money(**{**send, "recipient_phone": CHEPTOO}, key="k2")
        )
        amina_has = await side.port.balance(user_id=amina, pin=PIN, attempt_key="b1")
        baraka_has = await side.port.balance(user_id=baraka, pin=PIN, attempt_key="b2")
        lines = await side.port.mini_statement(user_id=baraka, pin=PIN, attempt_key="s1")
        return (
            (sent.amount, sent.fee, sent.balance, sent.replayed),
            (again.reference == sent.reference, again.replayed),
            reused,
            unknown,
            (amina_has, baraka_has),
            [(line.kind, line.amount, line.counterparty_name) for line in lines],
            lines[0].reference == sent.reference,
        )  # fmt: skip

    fee = seeds.fee("transfer", 100_000)
    sent, again, reused, unknown, balances, lines, same_reference = observe(sides, scenario)
    assert sent == (100_000, fee, 1_000_000 - 100_000 - fee, False)
    assert again == (True, True)
    assert reused[0] == "IdempotencyConflict" and unknown[0] == "RecipientNotRegistered"
    assert balances == (1_000_000 - 100_000 - fee, 100_000)
    assert lines[0] == ("transfer", 100_000, "Amina Njeri") and same_reference


def test_wrong_pins_lock_money_out_until_the_policys_first_lock_ends(sides):
    policy = PinPolicy()

    async def scenario(side: Side):
        amina = side.add_user(AMINA, "Amina Njeri")
        side.fund(AMINA, 100_000)
        before = datetime.now(UTC)
        tries = [
            await outcome(side.port.verify_pin(user_id=amina, pin=WRONG, attempt_key=f"w{n}"))
            for n in range(policy.max_attempts - 1)
        ]
        try:
            await side.port.verify_pin(user_id=amina, pin=WRONG, attempt_key="last")
        except PinLocked as locked:
            until = locked.until
        lock = await side.port.pin_lock(user_id=amina)
        right = await outcome(side.port.verify_pin(user_id=amina, pin=PIN, attempt_key="right"))
        first = policy.lock_length(1)
        assert first is not None and until is not None
        ends = before + first - timedelta(seconds=5) <= until <= datetime.now(UTC) + first
        return (
            tries,
            ends,
            type(lock).__name__,
            lock is not None and abs(lock.until - until) < timedelta(seconds=1),
            right,
        )

    tries, ends, lock, same_end, right = observe(sides, scenario)
    assert [t[1]["attempts_left"] for t in tries] == list(range(policy.max_attempts - 1, 0, -1))
    assert ends and lock == "PinLocked" and same_end
    assert right[0] == "PinLocked"


def test_the_lock_after_the_timed_ones_requires_a_reset(sides):
    policy = PinPolicy()

    async def scenario(side: Side):
        amina = side.add_user(AMINA, "Amina Njeri")
        seen = []
        for lock in range(policy.timed_locks + 1):
            for n in range(policy.max_attempts):
                key = f"{lock}:{n}"
                seen.append(
                    await outcome(side.port.verify_pin(user_id=amina, pin=WRONG, attempt_key=key))
                )
            if lock < policy.timed_locks:
                await _lift_lock(side, amina)
        return seen[-1], type(await side.port.pin_lock(user_id=amina)).__name__

    last, lock = observe(sides, scenario)
    assert last[0] == "PinResetRequired" and lock == PinResetRequired.__name__


async def _lift_lock(side: Side, user_id: int) -> None:
    """Let a timed lock run out, as the clock would."""
    if isinstance(side.port, FakeUssdServices):
        side.port.locked_until.pop(user_id, None)
        return
    database = side.port._runtime.database
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE user_credentials SET locked_until = now() - interval '1 second'"
            " WHERE user_id = %s",
            (user_id,),
        )
        conn.commit()


def test_a_recipient_is_found_by_phone(sides):
    async def scenario(side: Side):
        amina = side.add_user(AMINA, "Amina Njeri")
        side.add_user(BARAKA, "Baraka Mwangi")
        payee = await side.port.find_recipient(sender_user_id=amina, phone=BARAKA)
        return (
            (payee.full_name, payee.phone),
            await outcome(side.port.find_recipient(sender_user_id=amina, phone=CHEPTOO)),
            await outcome(side.port.find_recipient(sender_user_id=amina, phone=AMINA)),
        )

    payee, unknown, self_ = observe(sides, scenario)
    assert payee == ("Baraka Mwangi", BARAKA)
    assert unknown[0] == "RecipientNotRegistered"
    assert self_ == ("ValidationFailed", {"code": "send_to_self"})


@pytest.mark.parametrize(
    "raw",
    [
        "  Amina   Njeri ",
        "Renée Akinyi",
        "Zoë Wanjiru",
        "O'Neil-Otieno Jr.",
        "A",
        "Amina 2",
        "Ама",
        "x" * 61,
    ],
)
def test_a_name_is_tidied_or_refused(sides, raw):
    async def scenario(side: Side):
        try:
            return side.port.validate_name(raw)
        except PayTraceError as refused:
            return type(refused).__name__, refused.code

    observe(sides, scenario)


# ---- Harambee port --------------------------------------------------------------


def test_a_campaign_found_by_code_takes_contributions_and_pledges(sides):
    due = (date.today() + timedelta(days=20)).isoformat()

    async def scenario(side: Side):
        amina = side.add_user(AMINA, "Amina Njeri")
        baraka = side.add_user(BARAKA, "Baraka Mwangi")
        side.fund(BARAKA, 1_000_000)
        port = side.port
        started = await port.start_campaign(
            user_id=amina, title="Hospital bill", target=5_000_000, end_date=None, pin=PIN, key="s"
        )
        found = await port.campaign_by_code(code=started.code)
        unknown = "100000" if started.code != "100000" else "100001"
        missing = (
            await outcome(port.campaign_by_code(code=unknown)),
            await outcome(port.campaign_by_code(code="000000")),  # no code starts with 0
        )
        paid = await port.contribute(
            user_id=baraka, campaign_id=found.id, amount=200_000, anonymous=False, pin=PIN, key="c"
        )
        again = await port.contribute(
            user_id=baraka, campaign_id=found.id, amount=200_000, anonymous=False, pin=PIN, key="c"
        )
        too_much = await outcome(port.contribute(
            user_id=baraka, campaign_id=found.id, amount=BASIC.per_transaction + 1,
            anonymous=False, pin=PIN, key="c2",
        ))  # fmt: skip
        pledged = await port.pledge(
            user_id=baraka, campaign_id=found.id, amount=300_000, due_date=due,
            anonymous=True, pin=PIN, key="p",
        )  # fmt: skip
        pledges = await port.open_pledges(user_id=baraka, after_id=None, limit=5)
        after = await port.campaign_by_code(code=started.code)
        return (
            (found.id == started.id, found.title, found.target, found.raised, found.takes_money),
            (missing[0][0], missing[1]),
            (paid.amount, paid.balance, paid.raised, paid.target, paid.pledge_left, paid.replayed),
            (again.reference == paid.reference, again.replayed),
            too_much,
            (
                pledged.campaign_title,
                pledged.amount,
                pledged.paid,
                pledged.due_date,
                pledged.status,
            ),
            [(p.amount, p.paid) for p in pledges.items],
            after.raised,
        )

    found, missing, paid, again, too_much, pledged, pledges, raised = observe(sides, scenario)
    assert found == (True, "Hospital bill", 5_000_000, 0, True)
    assert missing == ("NotFound", ("ValidationFailed", {"code": "invalid_code"}))
    assert paid == (200_000, 800_000, 200_000, 5_000_000, None, False) and again == (True, True)
    assert too_much[0] == "LimitExceeded"
    assert pledged == ("Hospital bill", 300_000, 0, due, "pledged")
    assert pledges == [(300_000, 0)] and raised == 200_000


# The bands' edges, some of them not whole shillings (M-Pesa refuses those).
WITHDRAWAL_EDGES = sorted(
    {edge for b in seeds.fee_bands("withdrawal") for edge in (b.min_amount, b.max_amount)}
)


@pytest.mark.parametrize("amount", WITHDRAWAL_EDGES)
def test_a_withdrawal_quote_at_each_band_edge(sides, amount):
    async def scenario(side: Side):
        amina = side.add_user(AMINA, "Amina Njeri")
        side.fund(AMINA, BASIC.per_transaction + 100_000)
        return await outcome(side.port.quote_withdrawal(user_id=amina, amount=amount))

    got = observe(sides, scenario)
    if not isinstance(got, tuple):
        fee = seeds.fee("withdrawal", amount)
        assert (got.amount, got.fee) == (amount, fee)


def test_the_daily_limit_counts_what_was_sent_today(sides):
    async def scenario(side: Side):
        amina = side.add_user(AMINA, "Amina Njeri")
        side.add_user(BARAKA, "Baraka Mwangi")
        side.fund(AMINA, BASIC.daily + 1_000_000)
        for n in range(BASIC.daily // BASIC.per_transaction):
            await side.port.send_money(
                sender_user_id=amina, recipient_phone=BARAKA, amount=BASIC.per_transaction,
                pin=PIN, key=f"d{n}",
            )  # fmt: skip
        return await outcome(
            side.port.quote_transfer(sender_user_id=amina, amount=BASIC.per_transaction)
        )

    sent = BASIC.daily // BASIC.per_transaction * BASIC.per_transaction
    refused = observe(sides, scenario)
    assert refused[0] == "LimitExceeded" and refused[1]["limit"] == "daily"
    assert refused[1]["allowed"] == BASIC.daily - sent


def test_an_invitation_once_a_day_per_number(sides):
    async def scenario(side: Side):
        amina = side.add_user(AMINA, "Amina Njeri")
        side.add_user(BARAKA, "Baraka Mwangi")
        return (
            await side.port.invite(sender_user_id=amina, phone=CHEPTOO),
            await side.port.invite(sender_user_id=amina, phone=CHEPTOO),
            await outcome(side.port.invite(sender_user_id=amina, phone=BARAKA)),
        )

    assert observe(sides, scenario) == (
        True, False, ("ValidationFailed", {"code": "already_registered"}),
    )  # fmt: skip


def test_a_contribution_refused_and_a_pledge_paid(sides):
    far = (date.today() + timedelta(days=400)).isoformat()

    async def scenario(side: Side):
        amina = side.add_user(AMINA, "Amina Njeri")
        baraka = side.add_user(BARAKA, "Baraka Mwangi")
        side.fund(BARAKA, 100_000)
        port = side.port
        end = (date.today() + timedelta(days=30)).isoformat()
        started = await port.start_campaign(
            user_id=amina, title="School fees", target=1_000_000, end_date=end, pin=PIN, key="s"
        )
        poor = await outcome(port.contribute(
            user_id=baraka, campaign_id=started.id, amount=200_000, anonymous=False, pin=PIN,
            key="c1",
        ))  # fmt: skip
        late = await outcome(port.pledge(
            user_id=baraka, campaign_id=started.id, amount=50_000, due_date=far,
            anonymous=False, pin=PIN, key="p1",
        ))  # fmt: skip
        pledged = await port.pledge(
            user_id=baraka, campaign_id=started.id, amount=50_000, due_date=end,
            anonymous=False, pin=PIN, key="p2",
        )  # fmt: skip
        part = await port.pay_pledge(
            user_id=baraka, pledge_id=pledged.id, amount=20_000, pin=PIN, key="y1"
        )
        over = await outcome(
            port.pay_pledge(user_id=baraka, pledge_id=pledged.id, amount=40_000, pin=PIN, key="y2")
        )
        rest = await port.pay_pledge(
            user_id=baraka, pledge_id=pledged.id, amount=None, pin=PIN, key="y3"
        )
        mine = await port.my_campaigns(user_id=amina, after_id=None, limit=5)
        ended = await port.close_campaign(user_id=amina, campaign_id=started.id, pin=PIN, key="e")
        closed = await outcome(port.contribute(
            user_id=baraka, campaign_id=started.id, amount=1_000, anonymous=False, pin=PIN,
            key="c2",
        ))  # fmt: skip
        return (
            poor,
            late,
            (part.amount, part.balance, part.raised, part.pledge_left),
            over,
            (rest.amount, rest.balance, rest.raised, rest.pledge_left),
            [(c.title, c.raised, c.end_date) for c in mine.items],
            (ended.amount, ended.balance),
            closed[0],
        )

    poor, late, part, over, rest, mine, ended, closed = observe(sides, scenario)
    assert mine == [("School fees", 50_000, mine[0][2])]
    assert poor[0] == "InsufficientFunds"
    assert late == ("ValidationFailed", {"code": "invalid_due_date"})
    assert part == (20_000, 80_000, 20_000, 30_000)
    assert over[0] == "ValidationFailed" and rest == (30_000, 50_000, 50_000, 0)
    assert ended == (50_000, 50_000) and closed == "CampaignNotOpen"


def test_contributions_count_against_the_daily_limit_as_transfers_do(sides):
    async def scenario(side: Side):
        amina = side.add_user(AMINA, "Amina Njeri")
        baraka = side.add_user(BARAKA, "Baraka Mwangi")
        side.fund(BARAKA, BASIC.daily + 1_000_000)
        port = side.port
        started = await port.start_campaign(
            user_id=amina, title="Church roof", target=50_000_000, end_date=None, pin=PIN, key="s"
        )
        sends = BASIC.daily // BASIC.per_transaction
        for n in range(sends):
            await port.send_money(
                sender_user_id=baraka, recipient_phone=AMINA, amount=BASIC.per_transaction,
                pin=PIN, key=f"d{n}",
            )  # fmt: skip
        left = BASIC.daily - sends * BASIC.per_transaction
        over = await outcome(port.contribute(
            user_id=baraka, campaign_id=started.id, amount=left + 100, anonymous=False, pin=PIN,
            key="c1",
        ))  # fmt: skip
        await port.contribute(
            user_id=baraka, campaign_id=started.id, amount=left // 2, anonymous=False, pin=PIN,
            key="c2",
        )  # fmt: skip
        quote = await outcome(port.quote_transfer(sender_user_id=baraka, amount=left))
        return over, quote

    left = BASIC.daily - BASIC.daily // BASIC.per_transaction * BASIC.per_transaction
    over, quote = observe(sides, scenario)
    assert over == ("LimitExceeded", {"code": "limit_exceeded", "limit": "daily", "allowed": left})
    assert quote[1]["allowed"] == left - left // 2


@pytest.mark.parametrize("over", [4_000, 6_000])  # between the withdrawal and transfer fees
def test_a_withdrawal_needs_its_own_fee_not_a_transfers(sides, over):
    amount = 2_000_100  # withdrawal fee KES 50, a transfer's KES 100

    async def scenario(side: Side):
        amina = side.add_user(AMINA, "Amina Njeri")
        side.fund(AMINA, amount + over)
        return await outcome(side.port.quote_withdrawal(user_id=amina, amount=amount))

    got = observe(sides, scenario)
    fee = seeds.fee("withdrawal", amount)
    assert seeds.fee("withdrawal", amount) < seeds.fee("transfer", amount)
    if over >= fee:
        assert (got.amount, got.fee) == (amount, fee)
    else:
        assert got[0] == "InsufficientFunds"


def test_a_wrong_pin_moves_no_money(sides):
    async def scenario(side: Side):
        amina = side.add_user(AMINA, "Amina Njeri")
        baraka = side.add_user(BARAKA, "Baraka Mwangi")
        side.fund(AMINA, 100_000)
        open_before = await side.port.pin_lock(user_id=amina)
        wrong = await outcome(side.port.send_money(
            sender_user_id=amina, recipient_phone=BARAKA, amount=50_000, pin=WRONG, key="k",
        ))  # fmt: skip
        return (
            open_before,
            wrong,
            await side.port.balance(user_id=amina, pin=PIN, attempt_key="b1"),
            await side.port.balance(user_id=baraka, pin=PIN, attempt_key="b2"),
        )

    attempts = PinPolicy().max_attempts - 1
    assert observe(sides, scenario) == (
        None, ("WrongPin", {"code": "wrong_pin", "attempts_left": attempts}), 100_000, 0
    )  # fmt: skip


def test_open_campaigns_are_listed_newest_first_a_page_at_a_time(sides):
    async def scenario(side: Side):
        amina = side.add_user(AMINA, "Amina Njeri")
        for n, title in enumerate(["Water tank", "School fees", "Hospital bill"]):
            await side.port.start_campaign(
                user_id=amina, title=title, target=1_000_000, end_date=None, pin=PIN, key=f"s{n}"
            )
        first = await side.port.open_campaigns(after_id=None, limit=2)
        rest = await side.port.open_campaigns(after_id=first.items[-1].id, limit=2)
        return [c.title for c in first.items], first.more, [c.title for c in rest.items], rest.more

    assert observe(sides, scenario) == (
        ["Hospital bill", "School fees"], True, ["Water tank"], False
    )  # fmt: skip
