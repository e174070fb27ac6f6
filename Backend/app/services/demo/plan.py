"""The demo's history, planned before anything is written: who, when, what, how much.

Pure and deterministic: the same seed, sizes and moment give the same plan, so two runs
of `make demo` on fresh databases tell the same story. Every name and number in it is
marked as the demo's: names start with "Demo", phones are in DEMO_PHONE_PREFIX's range,
every idempotency key starts with "demo:".
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from app.domain.money import NAIROBI

DEMO_PHONE_PREFIX = "+25470099"  # + four digits: up to 10,000 demo people
MAX_USERS = 10_000
FIRST = (
    "Amina",
    "Jane",
    "Wanjiru",
    "Otieno",
    "Achieng",
    "Kamau",
    "Mwangi",
    "Nafula",
    "Chebet",
    "Kiprop",
    "Auma",
    "Njeri",
    "Mutua",
    "Wekesa",
    "Zawadi",
    "Baraka",
)
LAST = (
    "Otieno",
    "Wanjiku",
    "Kamau",
    "Mwangi",
    "Odhiambo",
    "Kiptoo",
    "Njoroge",
    "Mutiso",
    "Wafula",
    "Chepkoech",
    "Onyango",
    "Karanja",
)
MERCHANTS = (("DEMO DUKA", "771001"), ("DEMO MAMA MBOGA", "771002"), ("DEMO CHEMIST", "771003"))
CAMPAIGNS = ("Demo: church roof", "Demo: school fees for Baraka", "Demo: water tank")
# What a planned M-Pesa request ends as: the share of each, drawn per request.
STK_ENDINGS = (("paid", 80), ("cancelled", 10), ("timeout", 6), ("insufficient", 4))
B2C_ENDINGS = (("paid", 90), ("failed", 10))
# The shortest history: a one-day demo run just after midnight still has an evening.
MIN_SPAN = timedelta(hours=12)
# The chance per registered person and day of each movement.
DAILY_CHANCE = {
    "deposit": 0.10,
    "transfer": 0.30,
    "withdrawal": 0.04,
    "contribution": 0.05,
    "merchant_payment": 0.12,
}


@dataclass(frozen=True)
class Person:
    n: int
    phone: str
    name: str
    language: str
    registers_at: datetime


@dataclass(frozen=True)
class Event:
    at: datetime
    kind: str  # registration | deposit | transfer | withdrawal | contribution | merchant_payment
    person: int
    amount: int = 0  # cents, whole shillings
    other: int = 0  # the recipient person, campaign or merchant index
    ending: str = "paid"  # how an M-Pesa request ends
    key: str = ""


@dataclass(frozen=True)
class Plan:
    people: tuple[Person, ...]
    events: tuple[Event, ...] = field(default=())


def phone_of(n: int) -> str:
    return f"{DEMO_PHONE_PREFIX}{n:04d}"


def _ending(rng: random.Random, endings: tuple[tuple[str, int], ...]) -> str:
    names, weights = zip(*endings, strict=True)
    return rng.choices(names, weights=weights)[0]


def _shillings(rng: random.Random, low: int, high: int, step: int = 10) -> int:
    return rng.randrange(low, high + 1, step) * 100


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), NAIROBI)


def plan(*, users: int, days: int, seed: int, now: datetime) -> Plan:
    """The people and their movements over `days` Nairobi days ending with today (today
    up to `now`), oldest first. Raises ValueError for sizes out of range."""
    if not 3 <= users <= MAX_USERS or not 1 <= days <= 366:
        raise ValueError(f"users must be 3 to {MAX_USERS}, days 1 to 366")
    rng = random.Random(seed)  # noqa: S311 - a repeatable story, not a secret
    today = now.astimezone(NAIROBI).date()
    start = min(_midnight(today - timedelta(days=days - 1)), now - MIN_SPAN)
    span_s = (now - start).total_seconds()
    people = []
    for n in range(users):
        # Most people are there from the first day; the rest join along the way.
        joins = 0.0 if n < max(3, users * 6 // 10) else rng.uniform(0, span_s * 0.85)
        at = start + timedelta(seconds=joins + rng.randrange(60, 3600))
        name = f"Demo {rng.choice(FIRST)} {rng.choice(LAST)}"
        language = "sw" if rng.random() < 0.3 else "en"
        people.append(Person(n, phone_of(n), name, language, at))
    events = []
    for p in people:
        events.append(Event(p.registers_at, "registration", p.n, key=f"demo:{seed}:reg:{p.n}"))
        # Everyone starts with a deposit soon after registering: money to move.
        first = p.registers_at + timedelta(seconds=rng.randrange(120, 1800))
        amount = _shillings(rng, 2000, 8000, 100)
        events.append(Event(first, "deposit", p.n, amount, key=f"demo:{seed}:first:{p.n}"))
        if p.n % 5 == 2:  # some first prompts go unanswered: every ending shows, even small
            ending = STK_ENDINGS[1 + p.n // 5 % (len(STK_ENDINGS) - 1)][0]
            missed = first - timedelta(seconds=90)
            events.append(
                Event(missed, "deposit", p.n, amount, 0, ending, f"demo:{seed}:miss:{p.n}")
            )
    # Each Nairobi day from the first to today has its day's movements: today's fall
    # between its midnight and `now`, however early, so the history reaches today.
    day, n = start.astimezone(NAIROBI).date(), 0
    while day <= today:
        opens = max(start, _midnight(day))
        span = min(_midnight(day + timedelta(days=1)), now) - opens
        for p in people:
            for kind, chance in DAILY_CHANCE.items():
                if rng.random() >= chance:
                    continue
                at = opens + span * (rng.randrange(3600, 86_000) / 86_400)
                if at <= p.registers_at or at >= now:
                    continue
                events.append(_movement(rng, kind, p, at, users, f"demo:{seed}:{n}:{len(events)}"))
        day, n = day + timedelta(days=1), n + 1
    events.sort(key=lambda e: (e.at, e.kind != "registration"))
    return Plan(tuple(people), tuple(events))


def _movement(
    rng: random.Random, kind: str, person: Person, at: datetime, users: int, key: str
) -> Event:
    if kind == "deposit":
        return Event(
            at, kind, person.n, _shillings(rng, 200, 5000), 0, _ending(rng, STK_ENDINGS), key
        )
    if kind == "withdrawal":
        return Event(
            at, kind, person.n, _shillings(rng, 100, 1500), 0, _ending(rng, B2C_ENDINGS), key
        )
    if kind == "transfer":
        other = rng.randrange(users - 1)
        other = other + 1 if other >= person.n else other
        return Event(at, kind, person.n, _shillings(rng, 50, 1500), other, key=key)
    if kind == "contribution":
        return Event(
            at, kind, person.n, _shillings(rng, 50, 1000), rng.randrange(len(CAMPAIGNS)), key=key
        )
    return Event(
        at, kind, person.n, _shillings(rng, 20, 800), rng.randrange(len(MERCHANTS)), key=key
    )
