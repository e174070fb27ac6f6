"""The USSD port's contract: FakeUssdServices and ChannelServices (the facade both
channels call) answer alike (tests/support/port_contract.py runs each scenario on both)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from app.domain.money import nairobi_day
from app.errors import PayTraceError, PinLocked, PinResetRequired
from app.services.bills.payments import BillRequest
from app.services.pins import PinPolicy
from app.services.schedules.manage import NewSchedule
from app.services.transfers import TransferRequest
from tests.support import seeds
from tests.support.port_contract import (
    AMINA,
    BAND_EDGES,
    BARAKA,
    BASIC,
    CHEPTOO,
    PIN,
    TRANSFER_BANDS,
    WRONG,
    Side,
    lift_lock,
    make_sides,
    observe,
    outcome,
)


@pytest.fixture
def sides(request):
    return make_sides(request)


def transfer(sender: int, to: str, amount: int, key: str) -> TransferRequest:
    return TransferRequest(
        sender_user_id=sender, recipient_phone=to, amount=amount, idempotency_key=key
    )


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
    kinds = ("transfer", "withdrawal", "bill", "airtime")
    assert bands == {band for kind in kinds for band in seeds.fee_bands(kind)}
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
        sent = await side.port.send_money(transfer(amina, BARAKA, 100_000, "k1"), pin=PIN)
        again = await side.port.send_money(transfer(amina, BARAKA, 100_000, "k1"), pin=PIN)
        reused = await outcome(side.port.send_money(transfer(amina, BARAKA, 1_000, "k1"), pin=PIN))
        unknown = await outcome(
            side.port.send_money(transfer(amina, CHEPTOO, 100_000, "k2"), pin=PIN)
        )
        amina_has = await side.port.balance(user_id=amina, pin=PIN, attempt_key="b1")
        baraka_has = await side.port.balance(user_id=baraka, pin=PIN, attempt_key="b2")
        lines = await side.port.mini_statement(user_id=baraka, pin=PIN, attempt_key="s1")
        return (
            (sent.amount, sent.fee, sent.balances[amina], sent.replayed),
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
                await lift_lock(side, amina)
        return seen[-1], type(await side.port.pin_lock(user_id=amina)).__name__

    last, lock = observe(sides, scenario)
    assert last[0] == "PinResetRequired" and lock == PinResetRequired.__name__


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
                transfer(amina, BARAKA, BASIC.per_transaction, f"d{n}"), pin=PIN
            )
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
        wrong = await outcome(side.port.send_money(transfer(amina, BARAKA, 50_000, "k"), pin=WRONG))
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


# ---- scheduled payments --------------------------------------------------------------


def test_the_owners_live_schedules_are_listed_newest_first_a_page_at_a_time(sides):
    async def scenario(side: Side):
        amina = side.add_user(AMINA, "Amina Njeri")
        side.add_user(BARAKA, "Baraka Mwangi")
        cheptoo = side.add_user(CHEPTOO, "Cheptoo Kiprop")
        side.add_schedule(amina, BARAKA, 150_000)
        side.add_schedule(amina, CHEPTOO, 250_000)
        side.add_schedule(cheptoo, BARAKA, 50_000)
        first, more = await side.port.schedules(owner_user_id=amina, limit=1)
        rest, after = await side.port.schedules(owner_user_id=amina, limit=1, before_id=first[0].id)
        seen = [(s.payee_name, s.amount, s.status, s.frequency, s.day) for s in first + rest]
        return seen, more, after

    assert observe(sides, scenario) == (
        [
            ("Cheptoo Kiprop", 250_000, "active", "monthly", 31),
            ("Baraka Mwangi", 150_000, "active", "monthly", 31),
        ],
        True,
        False,
    )


def test_a_schedule_is_paused_resumed_and_stopped_by_its_owner_with_the_pin(sides):
    async def scenario(side: Side):
        amina = side.add_user(AMINA, "Amina Njeri")
        baraka = side.add_user(BARAKA, "Baraka Mwangi")
        made = side.add_schedule(amina, BARAKA, 150_000)

        async def change(who: int, change: str, pin: str = PIN, key: str = "k"):
            done = await outcome(
                side.port.change_schedule(
                    owner_user_id=who,
                    schedule_id=made,
                    change=change,
                    pin=pin,
                    attempt_key=f"{key}:{change}:{pin}",
                )
            )
            return done if isinstance(done, tuple) else (done.status, done.next_due_at is None)

        steps = [
            await change(amina, "pause", WRONG),
            await change(baraka, "pause"),
            await change(amina, "pause"),
            await change(amina, "pause", key="again"),
            await change(amina, "resume"),
            await change(amina, "stop"),
            await change(amina, "resume", key="after"),
        ]
        live, _ = await side.port.schedules(owner_user_id=amina, limit=5)
        return steps, live

    steps, live = observe(sides, scenario)
    assert steps == [
        ("WrongPin", {"code": "wrong_pin", "attempts_left": 2}),
        ("ScheduleNotFound", {"code": "schedule_not_found"}),
        ("paused", False),
        ("paused", False),
        ("active", False),
        ("stopped", False),
        ("ScheduleEnded", {"code": "schedule_ended"}),
    ]
    assert live == []


def test_a_repeating_send_money_is_scheduled_once_per_key_behind_the_pin(sides):
    today = nairobi_day(datetime.now(UTC))

    def new(owner: int, to: str, key: str = "k1", **changes) -> NewSchedule:
        fields = dict(
            owner_user_id=owner, kind="transfer", payee=to, amount=150_000,
            frequency="monthly", day=31, at_time=time(9, 0), start_date=today,
            idempotency_key=key, channel="ussd",
        )  # fmt: skip
        return NewSchedule(**{**fields, **changes})

    async def scenario(side: Side):
        amina = side.add_user(AMINA, "Amina Njeri")
        side.add_user(BARAKA, "Baraka Mwangi")
        port = side.port

        async def make(request: NewSchedule, pin: str = PIN, attempt: str = "a"):
            done = await outcome(
                port.schedule_transfer(request, pin=pin, attempt_key=f"{attempt}:{pin}")
            )
            if isinstance(done, tuple):
                return done
            s = done.schedule
            return (s.payee_name, s.amount, s.status, s.frequency, s.day, done.replayed), s.id

        wrong = await make(new(amina, BARAKA), WRONG)
        (made, first_id) = await make(new(amina, BARAKA))
        (again, again_id) = await make(new(amina, BARAKA), attempt="b")
        return [
            wrong,
            made,
            again,
            again_id == first_id,
            await make(new(amina, BARAKA, amount=150_001), attempt="c"),
            await make(new(amina, AMINA, "k2"), attempt="d"),
            await make(new(amina, "+254799000000", "k3"), attempt="e"),
            await make(new(amina, BARAKA, "k4", start_date=today - timedelta(days=1)), attempt="f"),
            await make(new(amina, BARAKA, "k5", day=32), attempt="g"),
        ]

    assert observe(sides, scenario) == [
        ("WrongPin", {"code": "wrong_pin", "attempts_left": 2}),
        ("Baraka Mwangi", 150_000, "active", "monthly", 31, False),
        ("Baraka Mwangi", 150_000, "active", "monthly", 31, True),
        True,
        ("IdempotencyConflict", {"code": "idempotency_key_reused"}),
        ("ValidationFailed", {"code": "send_to_self"}),
        ("RecipientNotRegistered", {"code": "recipient_not_registered"}),
        ("ValidationFailed", {"code": "invalid_start"}),
        ("ValidationFailed", {"code": "invalid_schedule"}),
    ]


def test_a_payment_made_is_repeated_monthly_once_per_key_and_nothing_unpaid_is(sides):
    """'9. Repeat monthly' (app/ussd/repeat/): a schedule only of a payment the owner's
    ledger holds under the key given, of the same kind; once per key."""
    today = nairobi_day(datetime.now(UTC))
    tomorrow = today + timedelta(days=1)

    def new(owner: int, kind: str, payee: str, key: str, amount: int = 10_000) -> NewSchedule:
        return NewSchedule(
            owner_user_id=owner, kind=kind, payee=payee, amount=amount, frequency="monthly",
            day=today.day, at_time=time(9, 0), start_date=tomorrow,
            idempotency_key=f"repeat:{key}", channel="ussd",
        )  # fmt: skip

    async def scenario(side: Side):
        amina = side.add_user(AMINA, "Amina Njeri")
        baraka = side.add_user(BARAKA, "Baraka Mwangi")
        side.fund(AMINA, 50_000)
        port = side.port
        airtime = f"{AIRTIME.code}:{BARAKA}"

        async def repeat(request: NewSchedule, paid_key: str):
            done = await outcome(port.repeat_payment(request, paid_key=paid_key))
            if isinstance(done, tuple):
                return done
            s = done.schedule
            return (
                s.kind, s.payee, s.payee_name, s.amount, s.frequency, s.day,
                s.start_date == tomorrow, s.status, done.replayed,
            )  # fmt: skip

        unpaid = await repeat(new(amina, "transfer", BARAKA, "t1"), "t1")
        await port.send_money(transfer(amina, BARAKA, 10_000, "t1"), pin=PIN)
        await port.pay_bill(bill(amina, 10_000, "b1"), pin=PIN)
        live_before, _ = await port.schedules(owner_user_id=amina, limit=10)
        steps = [
            unpaid,
            await repeat(new(amina, "transfer", BARAKA, "t1"), "t1"),
            await repeat(new(amina, "transfer", BARAKA, "t1"), "t1"),
            await repeat(new(amina, "transfer", BARAKA, "t1", amount=10_001), "t1"),
            await repeat(new(amina, "transfer", AMINA, "t1-other"), "t1"),  # not the payee
            await repeat(new(baraka, "transfer", AMINA, "t1"), "t1"),  # Amina's key
            await repeat(new(amina, "airtime", airtime, "t1-airtime"), "t1"),  # not a bill
            await repeat(new(amina, "airtime", airtime, "b1"), "b1"),
            await repeat(new(amina, "bill", airtime, "b1-bill"), "b1"),
            await repeat(new(amina, "wage", "1", "b1-wage"), "b1"),
        ]
        live, _ = await port.schedules(owner_user_id=amina, limit=10)
        return live_before, steps, len(live)

    live_before, steps, live = observe(sides, scenario)
    day, airtime = today.day, f"{AIRTIME.code}:{BARAKA}"
    assert live_before == []
    assert steps == [
        ("ValidationFailed", {"code": "not_paid"}),
        ("transfer", BARAKA, "Baraka Mwangi", 10_000, "monthly", day, True, "active",
         False),
        ("transfer", BARAKA, "Baraka Mwangi", 10_000, "monthly", day, True, "active",
         True),
        ("ValidationFailed", {"code": "not_paid"}),  # not the amount paid
        ("ValidationFailed", {"code": "not_paid"}),  # not the payee paid
        ("ValidationFailed", {"code": "not_paid"}),
        ("ValidationFailed", {"code": "not_paid"}),
        ("airtime", airtime, "Airtime Safaricom 0711 000 202", 10_000, "monthly",
         day, True, "active", False),
        ("ValidationFailed", {"code": "invalid_payee"}),
        ("ValidationFailed", {"code": "invalid_kind"}),
    ]  # fmt: skip
    assert live == 2


# ---- Buy airtime (docs/bills.md) ----------------------------------------------------

AIRTIME = seeds.biller("airtime_safaricom")


def bill(user_id: int, amount: int, key: str, biller: str = AIRTIME.code) -> BillRequest:
    return BillRequest(user_id, biller, BARAKA, amount, key, "ussd")


@pytest.mark.parametrize("phone", [AMINA, "0733 123 456", "+14155552671", "020 222 2222"])
def test_the_airtime_biller_is_the_number_s_network(sides, phone):
    async def scenario(side: Side):
        found = await outcome(side.port.airtime_biller(phone=phone))
        return found if isinstance(found, tuple) else (found.biller.code, found.account)

    got = observe(sides, scenario)
    if phone == AMINA:
        assert got == (AIRTIME.code, AMINA)
    elif phone.startswith("07"):
        assert got == ("airtime_airtel", "+254733123456")
    else:
        assert got == ("ValidationFailed", {"code": "invalid_account"})


@pytest.mark.parametrize(
    "amount",
    [AIRTIME.min_amount, AIRTIME.max_amount, AIRTIME.min_amount - 100, AIRTIME.min_amount + 50],
)
def test_a_bill_quote_at_the_biller_s_edges(sides, amount):
    async def scenario(side: Side):
        amina = side.add_user(AMINA, "Amina Njeri")
        side.fund(AMINA, 5_000)
        quote = await outcome(
            side.port.quote_bill(
                user_id=amina, biller_code=AIRTIME.code, account=BARAKA, amount=amount
            )
        )
        if isinstance(quote, tuple):
            return quote
        return (quote.amount, quote.fee, quote.balance, quote.cashback)

    got = observe(sides, scenario)
    if amount % 100 or amount < AIRTIME.min_amount:
        assert got == ("ValidationFailed", {"code": "invalid_amount"})
    elif amount + seeds.fee("airtime", amount) > 5_000:
        assert got[0] in ("InsufficientFunds", "LimitExceeded")
    else:
        # No cashback rule in a fresh database: none quoted.
        assert got == (amount, seeds.fee("airtime", amount), 5_000, 0)


def test_paying_a_bill_holds_once_per_key_and_refuses_what_it_must(sides):
    async def scenario(side: Side):
        amina = side.add_user(AMINA, "Amina Njeri")
        side.fund(AMINA, 50_000)
        held = await side.port.pay_bill(bill(amina, 10_000, "k1"), pin=PIN)
        again = await side.port.pay_bill(bill(amina, 10_000, "k1"), pin=PIN)
        p = held.payment
        return (
            (p.status, p.account, p.amount, p.fee, p.biller_code, held.balance, held.replayed),
            (again.replayed, again.payment.reference == p.reference, again.balance),
            await outcome(side.port.pay_bill(bill(amina, 20_000, "k1"), pin=PIN)),
            await outcome(side.port.pay_bill(bill(amina, 10_000, "k2"), pin=WRONG)),
            await outcome(side.port.pay_bill(bill(amina, 60_000, "k3"), pin=PIN)),
            await outcome(
                side.port.pay_bill(
                    BillRequest(amina, "airtime_airtel", BARAKA, 10_000, "k4", "ussd"), pin=PIN
                )
            ),
            (kplc := await side.port.pay_bill(
                BillRequest(amina, "kplc_prepaid", "1" * 11, 10_000, "k5", "ussd"), pin=PIN
            )).payment.status, kplc.payment.rail, kplc.balance,
        )  # fmt: skip

    fee = seeds.fee("airtime", 10_000)
    held, again, conflict, wrong, poor, network, *paybill = observe(sides, scenario)
    assert held == ("held", BARAKA, 10_000, fee, AIRTIME.code, 40_000 - fee, False)
    assert again == (True, True, 40_000 - fee)
    assert conflict == ("IdempotencyConflict", {"code": "idempotency_key_reused"})
    assert wrong[0] == "WrongPin"
    assert poor[0] == "InsufficientFunds"
    assert network == ("ValidationFailed", {"code": "not_on_network"})
    # Over USSD as over REST, where M-Pesa is on, a Paybill biller is held too.
    assert paybill == ["held", "daraja_b2b", 40_000 - fee - 10_000]


# ---- Pay a bill (docs/bills.md) ---------------------------------------------------

KPLC = seeds.biller("kplc_prepaid")


def test_the_billers_offered_are_those_whose_rail_is_open_here(sides):
    async def scenario(side: Side):
        return [b.code for b in await side.port.payable_billers()]

    # M-Pesa is on in the contract's settings (the local Daraja sandbox): every rail.
    assert observe(sides, scenario) == [b.code for b in seeds.billers()]


@pytest.mark.parametrize(
    ("biller", "account"),
    [(KPLC.code, "1234 5678 901"), (KPLC.code, "123"), (KPLC.code, "12a45678901"),
     ("no_such_biller", "12345678901"), (AIRTIME.code, "0733 123 456")],
)  # fmt: skip
def test_an_account_checked_against_its_biller(sides, biller, account):
    async def scenario(side: Side):
        found = await outcome(side.port.validate_bill_account(biller_code=biller, account=account))
        if isinstance(found, tuple):
            return found
        return (found.biller.code, found.account, found.holder_name, found.looked_up)

    got = observe(sides, scenario)
    # The biller cannot be asked (the sandbox is not served here): the form is checked.
    if account == "1234 5678 901":
        assert got == (KPLC.code, "12345678901", None, False)
    elif biller == "no_such_biller":
        assert got == ("BillerNotFound", {"code": "biller_not_found"})
    elif biller == AIRTIME.code:
        assert got == ("ValidationFailed", {"code": "not_on_network"})
    else:
        assert got == ("ValidationFailed", {"code": "invalid_account"})


def test_recent_tokens_of_a_user_with_none_are_none_once_per_key(sides):
    async def scenario(side: Side):
        amina = side.add_user(AMINA, "Amina Njeri")
        side.fund(AMINA, 50_000)
        await side.port.pay_bill(bill(amina, 10_000, "k1"), pin=PIN)  # held: no token yet
        first = await side.port.resend_tokens(user_id=amina, key="t1")
        return first, await side.port.resend_tokens(user_id=amina, key="t1")

    assert observe(sides, scenario) == (0, 0)
