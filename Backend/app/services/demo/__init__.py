"""`make demo`: a development database filled with a month of marked demo history.

Everything goes through the real services, as the channels call them: registrations,
M-Pesa deposits and withdrawals (with the demo playing the worker and M-Pesa, see
mpesa.py), transfers, harambee contributions and payments to merchants' tills, each
stamped at its planned moment (`now=`), so the ledger, its limits and its SMS are what
they would have been. What the real worker does next (SMS to the AT sandbox, settlement
on the local Stellar network) is left to it: `make run` afterwards performs them.
Refused in production.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from app.config import Settings
from app.db.unit_of_work import UnitOfWork
from app.domain.merchants import FeeRule
from app.errors import PayTraceError, refused
from app.services import merchants, pins
from app.services.custody import SecretBox
from app.services.demo import mpesa
from app.services.demo.plan import CAMPAIGNS, MERCHANTS, Event, Plan, plan
from app.services.harambee import campaigns, contributions
from app.services.merchant_payments import payments
from app.services.mpesa.payouts import CheckPolicy
from app.services.registration import NewUser, register_user
from app.services.transfers import TransferRequest, transfer

DEMO_PIN = "4821"  # every demo person's PIN (docs/console.md, "Demo data")
FLOAT_START = 5_000_000_00  # cents: the B2C account's balance before the first payout
__all__ = ["DEMO_PIN", "Filled", "fill"]


@dataclass(frozen=True)
class Filled:
    done: Counter  # events done, by kind (and deposit / withdrawal endings)
    refused: Counter  # events a business rule refused (no funds, a limit), by kind


def fill(
    uow: Callable[[], UnitOfWork],
    settings: Settings,
    *,
    users: int,
    days: int,
    seed: int = 17,
    now: datetime | None = None,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> Filled:
    """Write the planned history through the services, one unit of work from `uow` per
    service call (each its own transaction, as the channels make them). Raises ValidationFailed
    ('production') in production, ValueError for sizes out of range, DemoClash when
    another worker takes the demo's M-Pesa rows."""
    if settings.environment == "production":
        raise refused("production", "the demo writes made-up history: never in production")
    story = plan(users=users, days=days, seed=seed, now=now or datetime.now(UTC))
    run = _Run(uow, settings, story, seed)
    # A second run resumes after the newest movement an earlier one wrote: an event
    # before it was done (replayed harmlessly) or refused at its moment (no funds, a
    # limit), and asked again now it would meet the balances of the whole history and
    # might pass, adding a movement the first run did not make.
    with uow() as reading:
        resume_after = reading.ledger.latest_keyed(f"demo:{seed}:")
    for i, event in enumerate(story.events):
        if event.kind == "registration" or resume_after is None or event.at >= resume_after:
            run.perform(event)
        if i % 200 == 0:
            progress(i, len(story.events))
    progress(len(story.events), len(story.events))
    return Filled(run.done, run.refused)


class _Run:
    def __init__(
        self, uow: Callable[[], UnitOfWork], settings: Settings, story: Plan, seed: int
    ) -> None:
        self.uow = uow
        self.story = story
        self.seed = seed
        self.shortcode = settings.ussd_service_codes[0]
        self.box = SecretBox.from_settings(settings)
        self.hasher = pins.PinHasher.from_settings(settings)
        self.pin_policy = pins.PinPolicy.from_settings(settings)
        self.pin_hash = self.hasher.hash(DEMO_PIN)
        self.policy = CheckPolicy.from_settings(settings)
        self.user_ids: dict[int, int] = {}
        self.campaign_ids: list[int] = []
        self.tills: list[str] = []
        self.float_left = FLOAT_START
        self.done: Counter = Counter()
        self.refused: Counter = Counter()

    def perform(self, event: Event) -> None:
        if event.kind != "registration" and event.person not in self.user_ids:
            return
        try:
            outcome = getattr(self, event.kind)(event)
        except PayTraceError as exc:  # a rule said no (funds, a limit): as in real life
            self.refused[f"{event.kind}: {type(exc).__name__}"] += 1
            return
        self.done[event.kind if outcome is None else f"{event.kind}: {outcome}"] += 1

    def registration(self, event: Event) -> None:
        person = self.story.people[event.person]
        done = register_user(
            self.uow(),
            self.box,
            NewUser(
                phone=person.phone,
                full_name=person.name,
                pin_hash=self.pin_hash,
                language=person.language,
                registration_key=event.key,
            ),
            shortcode=self.shortcode,
            now=event.at,
        )
        self.user_ids[event.person] = done.user.id
        if len(self.user_ids) == 3:  # the first three people organise and keep the shops
            self._open_campaigns_and_tills(event)

    def _open_campaigns_and_tills(self, event: Event) -> None:
        first = list(self.user_ids)  # the first three people registered, in order
        for n, title in enumerate(CAMPAIGNS):
            started = campaigns.start_campaign(
                self.uow(),
                organiser_user_id=self.user_ids[first[n]],
                title=title,
                target_amount=(50_000 + 25_000 * n) * 100,
                key=f"demo:{self.seed}:campaign:{n}",
                shortcode=self.shortcode,
                now=event.at,
            )
            self.campaign_ids.append(started.campaign.id)
        for n, (name, till) in enumerate(MERCHANTS):
            phone = self.story.people[first[n]].phone
            merchants.onboard(
                self.uow(),
                merchants.Application(
                    legal_name=f"{name.title()} Ltd",
                    display_name=name,
                    till_number=till,
                    contact_phone=phone,
                    payout_phone=phone,
                    payout_schedule="on_request",
                    fee=FeeRule(100, 0, 20_000),
                ),
            )
            self.tills.append(till)

    def deposit(self, event: Event) -> str:
        person = self.story.people[event.person]
        ended = mpesa.deposit(
            self.uow,
            user_id=self.user_ids[event.person],
            phone=person.phone,
            amount=event.amount,
            ending=event.ending,
            key=event.key,
            at=event.at,
            policy=self.policy,
        )
        return ended

    def withdrawal(self, event: Event) -> str:
        ended = mpesa.withdrawal(
            self.uow,
            self.hasher,
            self.pin_policy,
            user_id=self.user_ids[event.person],
            pin=DEMO_PIN,
            amount=event.amount,
            ending=event.ending,
            key=event.key,
            at=event.at,
            policy=self.policy,
            float_left=self.float_left - event.amount,
        )
        if ended == "paid":
            self.float_left -= event.amount
        return ended

    def transfer(self, event: Event) -> None:
        if event.other not in self.user_ids:
            return None
        request = TransferRequest(
            sender_user_id=self.user_ids[event.person],
            recipient_phone=self.story.people[event.other].phone,
            amount=event.amount,
            idempotency_key=event.key,
        )
        transfer(self.uow(), request, now=event.at)
        return None

    def contribution(self, event: Event) -> None:
        request = contributions.ContributionRequest(
            user_id=self.user_ids[event.person],
            campaign_id=self.campaign_ids[event.other],
            amount=event.amount,
            idempotency_key=event.key,
        )
        contributions.contribute(self.uow(), request, now=event.at)

    def merchant_payment(self, event: Event) -> None:
        request = payments.MerchantPaymentRequest(
            payer_user_id=self.user_ids[event.person],
            till=self.tills[event.other],
            amount=event.amount,
            idempotency_key=event.key,
        )
        payments.pay(self.uow(), request, now=event.at)
