"""Any sequence of harambee steps keeps the money exact (hypothesis, real PostgreSQL).

A state machine starts campaigns, contributes (repeating and reusing idempotency
keys), pledges, pays pledges all at once or in parts, cancels pledges, closes and
cancels campaigns (by their organisers and by others, again and again), cancels
"interrupted" part way (the status changed, no refund made yet) and finishes the
refunds one by one or as the worker does. A plain-Python model predicts every
outcome. After every step: each campaign shows what its escrow holds (plus its
payout once closed), every wallet and escrow equals the model, and the ledger is
double-entry sound with money conserved. At the end every contributor of a
cancelled campaign has been refunded exactly what they paid, once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from app.db.unit_of_work import UnitOfWork
from app.errors import (
    IdempotencyConflict,
    InsufficientFunds,
    LimitExceeded,
    NotFound,
    ValidationFailed,
)
from app.services.harambee import campaigns, closing, pledges
from app.services.harambee.closing import NotCancelled
from app.services.harambee.common import CampaignEnded, CampaignNotOpen, NotOrganiser, PledgeNotOpen
from app.services.harambee.contributions import ContributionRequest, contribute
from tests.conftest import truncate_all
from tests.support import seeds
from tests.support.wallets import (
    SHORTCODE,
    check_ledger,
    fund,
    phone_of,
    register,
    registration_secrets,
    wallet_balance,
)

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DUE = date(2026, 3, 20)
USERS = 3
OPENING = 5_000_000  # KES 50,000 each
# Registered users start on tier 1. Refunds give money back but not the day's limit:
# a user refunded and paying again can reach it, and the model predicts the refusal.
LIMITS = seeds.tier(1)
# A few keys used again and again (replays, reuse for another request), and fresh ones.
KEYS = st.sampled_from(["k1", "k2", "k3"]) | st.text("abcdefghjk", min_size=8, max_size=8)
amounts = st.one_of(st.integers(1, 400_000), st.sampled_from([1, 100_000, OPENING]))


@dataclass
class CampaignModel:
    id: int
    organiser: int  # user index
    target: int
    status: str = "active"
    paid: dict[int, int] = field(default_factory=dict)  # user index -> cents contributed
    refunded: dict[int, int] = field(default_factory=dict)
    refunds: dict[int, int] = field(default_factory=dict)  # user index -> refund movements
    payout: int = 0

    @property
    def escrow(self) -> int:
        return sum(self.paid.values()) - sum(self.refunded.values()) - self.payout

    @property
    def shown(self) -> int:
        return self.escrow + self.payout


@dataclass
class PledgeModel:
    id: int
    user: int
    campaign: int  # index into the machine's campaigns
    amount: int
    paid: int = 0
    cancelled: bool = False


class HarambeeMachine(RuleBasedStateMachine):
    database = None
    secrets = None

    @initialize()
    def users(self) -> None:
        truncate_all(self.database)
        box, pin_hash = self.secrets
        self.ids = [register(self.database, box, pin_hash, phone=phone_of(n)) for n in range(USERS)]
        for n in range(USERS):
            fund(self.database, phone_of(n), OPENING)
        self.wallets = {n: OPENING for n in range(USERS)}
        self.spent_today = {n: 0 for n in range(USERS)}  # every contribution is at NOW
        self.campaigns: list[CampaignModel] = []
        self.pledges: list[PledgeModel] = []
        self.keys: dict[tuple[int, str], tuple] = {}  # (user, key) -> the request it made
        self.starts = 0

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.database)

    # ---- campaigns -------------------------------------------------------------------

    @precondition(lambda self: len(self.campaigns) < 5 and len(self._active()) < 2)
    @rule(organiser=st.integers(0, USERS - 1), goal=st.integers(1, 1_500_000))
    def start(self, organiser: int, goal: int) -> None:
        self.starts += 1
        made = campaigns.start_campaign(
            self.uow(),
            organiser_user_id=self.ids[organiser],
            title=f"Harambee {self.starts}",
            target_amount=goal,
            key=f"start-{self.starts}",
            shortcode=SHORTCODE,
            now=NOW,
        )
        self.campaigns.append(CampaignModel(made.campaign.id, organiser, goal))

    def _campaign(self, index: int) -> CampaignModel:
        return self.campaigns[index % len(self.campaigns)]

    def _active(self) -> list[CampaignModel]:
        return [c for c in self.campaigns if c.status == "active"]

    def _raising(self) -> bool:
        """Some active campaign holds money: ending one now is worth testing."""
        return any(c.escrow > 0 for c in self._active())

    # ---- contributions -----------------------------------------------------------------

    @precondition(lambda self: self.campaigns)
    @rule(user=st.integers(0, USERS - 1), which=st.integers(0, 4), amount=amounts, key=KEYS)
    def contribute(self, user: int, which: int, amount: int, key: str) -> None:
        self._pay_now(user, self._campaign(which), amount, key)

    @precondition(lambda self: self._active())
    @rule(user=st.integers(0, USERS - 1), which=st.integers(0, 4), amount=amounts, key=KEYS)
    def contribute_to_an_active_campaign(
        self, user: int, which: int, amount: int, key: str
    ) -> None:
        active = self._active()
        self._pay_now(user, active[which % len(active)], amount, key)

    def _pay_now(self, user: int, campaign: CampaignModel, amount: int, key: str) -> None:
        request = ("pay", campaign.id, None, amount)
        self._contribution(
            user,
            key,
            request,
            campaign,
            None,
            lambda: contribute(
                self.uow(),
                ContributionRequest(self.ids[user], campaign.id, amount, key),
                now=NOW,
            ),
        )

    def _contribution(self, user, key, request, campaign, pledge, call) -> None:
        """Predict, call, compare: one contribution (paying now or toward a pledge)."""
        earlier = self.keys.get((user, key))
        if earlier is not None and earlier != request:
            with pytest.raises(IdempotencyConflict):
                call()
            return
        if earlier is not None:
            assert call().replayed
            return
        if campaign.status != "active":
            with pytest.raises(CampaignNotOpen):
                call()
            return
        amount = request[3]
        if pledge is not None:
            if pledge.cancelled or pledge.paid >= pledge.amount:
                with pytest.raises(PledgeNotOpen):
                    call()
                return
            remaining = pledge.amount - pledge.paid
            amount = remaining if amount is None else amount
            if amount > remaining:
                with pytest.raises(ValidationFailed):
                    call()
                return
        spent = self.spent_today[user] + amount
        if amount > LIMITS.per_transaction or spent > min(LIMITS.daily, LIMITS.rolling_30_days):
            with pytest.raises(LimitExceeded):
                call()
            return
        if amount > self.wallets[user]:
            with pytest.raises(InsufficientFunds):
                call()
            return
        done = call()
        assert not done.replayed and done.amount == amount
        assert done.raised == campaign.escrow + amount
        self.keys[(user, key)] = request
        self.wallets[user] -= amount
        self.spent_today[user] += amount
        campaign.paid[user] = campaign.paid.get(user, 0) + amount
        if pledge is not None:
            pledge.paid += amount

    # ---- pledges -----------------------------------------------------------------------

    @precondition(lambda self: self.campaigns and len(self.pledges) < 6)
    @rule(user=st.integers(0, USERS - 1), which=st.integers(0, 4), amount=amounts)
    def pledge(self, user: int, which: int, amount: int) -> None:
        active = self._active()
        campaign = active[which % len(active)] if active else self._campaign(which)
        key = f"pledge-{len(self.pledges)}-{user}"

        def call():
            return pledges.make_pledge(
                self.uow(),
                user_id=self.ids[user],
                campaign_id=campaign.id,
                amount=amount,
                due_date=DUE,
                key=key,
                shortcode=SHORTCODE,
                now=NOW,
            )

        if campaign.status != "active":
            with pytest.raises(CampaignNotOpen):
                call()
            return
        made = call()
        self.pledges.append(
            PledgeModel(made.pledge.id, user, self.campaigns.index(campaign), amount)
        )

    @precondition(lambda self: self.pledges)
    @rule(which=st.integers(0, 5), amount=st.none() | st.integers(1, 150_000), key=KEYS)
    def pay_pledge(self, which: int, amount: int | None, key: str) -> None:
        pledge = self.pledges[which % len(self.pledges)]
        campaign = self.campaigns[pledge.campaign]
        request = ("pledge", campaign.id, pledge.id, amount)
        self._contribution(
            pledge.user,
            key,
            request,
            campaign,
            pledge,
            lambda: pledges.pay_pledge(
                self.uow(),
                pledge_id=pledge.id,
                user_id=self.ids[pledge.user],
                amount=amount,
                key=key,
                now=NOW,
            ),
        )

    @precondition(lambda self: self.pledges)
    @rule(which=st.integers(0, 5))
    def cancel_pledge(self, which: int) -> None:
        pledge = self.pledges[which % len(self.pledges)]
        call = lambda: pledges.cancel_pledge(  # noqa: E731
            self.uow(), pledge_id=pledge.id, user_id=self.ids[pledge.user], now=NOW
        )
        if pledge.paid >= pledge.amount and not pledge.cancelled:
            with pytest.raises(PledgeNotOpen):
                call()
            return
        assert call().status == "cancelled"
        pledge.cancelled = True

    # ---- closing and cancelling ----------------------------------------------------------

    @precondition(lambda self: self._raising())
    @rule(which=st.integers(0, 4), by_organiser=st.booleans())
    def close(self, which: int, by_organiser: bool) -> None:
        campaign = self._campaign(which)
        user = campaign.organiser if by_organiser else (campaign.organiser + 1) % USERS
        call = lambda: closing.close_campaign(  # noqa: E731
            self.uow(), campaign_id=campaign.id, user_id=self.ids[user], now=NOW
        )
        if not by_organiser:
            with pytest.raises(NotOrganiser):
                call()
        elif campaign.status == "cancelled":
            with pytest.raises(CampaignEnded):
                call()
        elif campaign.status == "closed":
            again = call().payout
            assert again is None if campaign.payout == 0 else again.replayed
        else:
            done = call()
            assert (done.payout.amount if done.payout else 0) == campaign.escrow
            campaign.payout = campaign.escrow
            self.wallets[campaign.organiser] += campaign.payout
            campaign.status = "closed"

    @precondition(lambda self: self._raising())
    @rule(which=st.integers(0, 4), by_organiser=st.booleans())
    def cancel(self, which: int, by_organiser: bool) -> None:
        campaign = self._campaign(which)
        user = campaign.organiser if by_organiser else (campaign.organiser + 1) % USERS
        call = lambda: closing.cancel_campaign(  # noqa: E731
            self.uow(), campaign_id=campaign.id, user_id=self.ids[user]
        )
        if not by_organiser:
            with pytest.raises(NotOrganiser):
                call()
            return
        if campaign.status == "closed":
            with pytest.raises(CampaignEnded):
                call()
            return
        done = call()
        owed = {u: paid for u, paid in campaign.paid.items() if u not in campaign.refunded}
        assert sorted(r.amount for r in done.refunds) == sorted(owed.values())
        campaign.status = "cancelled"
        for user_index, amount in owed.items():
            self._refunded(campaign, user_index, amount)

    def _refunded(self, campaign: CampaignModel, user: int, amount: int) -> None:
        campaign.refunded[user] = amount
        campaign.refunds[user] = campaign.refunds.get(user, 0) + 1
        self.wallets[user] += amount

    @precondition(lambda self: self._raising())
    @rule(which=st.integers(0, 4))
    def cancel_interrupted(self, which: int) -> None:
        """What a crash right after cancelling's first step leaves: cancelled, no refunds."""
        active = self._active()
        campaign = active[which % len(active)]
        with self.uow() as uow:
            row = uow.campaigns.get(campaign.id)
            assert row is not None
            uow.ledger.accounts(account_ids=[row.account_id])
            uow.campaigns.end(campaign.id, status="cancelled", payout_id=None, now=NOW)
            uow.commit()
        campaign.status = "cancelled"

    @precondition(lambda self: self.campaigns)
    @rule(which=st.integers(0, 4), user=st.integers(0, USERS - 1))
    def refund_one(self, which: int, user: int) -> None:
        campaign = self._campaign(which)
        call = lambda: closing.refund_contributor(  # noqa: E731
            self.uow(), campaign_id=campaign.id, user_id=self.ids[user]
        )
        if user in campaign.refunded:
            assert call().replayed
        elif campaign.status != "cancelled":
            with pytest.raises(NotCancelled):
                call()
        elif user not in campaign.paid:
            with pytest.raises(NotFound):
                call()
        else:
            assert call().amount == campaign.paid[user]
            self._refunded(campaign, user, campaign.paid[user])

    @rule()
    def worker_finishes_refunds(self) -> None:
        made = closing.finish_refunds(self.uow())
        owed = 0
        for campaign in self.campaigns:
            if campaign.status == "cancelled":
                for user, paid in campaign.paid.items():
                    if user not in campaign.refunded:
                        owed += 1
                        self._refunded(campaign, user, paid)
        assert made == owed

    # ---- what must always hold -------------------------------------------------------------

    @invariant()
    def books_agree_with_the_model(self) -> None:
        if not hasattr(self, "ids"):
            return
        for campaign in self.campaigns:
            row = campaigns.get_campaign(self.uow(), campaign.id)
            assert row.balance == campaign.escrow  # the escrow account, from the ledger
            assert row.current_amount == campaign.shown
            assert row.stored_status == campaign.status
            if campaign.status != "closed":
                assert row.current_amount == row.balance
        for user, expected in self.wallets.items():
            assert wallet_balance(self.database, self.ids[user]) == expected
        held = sum(self.wallets.values()) + sum(c.escrow for c in self.campaigns)
        assert held == USERS * OPENING  # harambee moves money, never makes or loses it
        assert check_ledger(self.database).sound

    def teardown(self) -> None:
        if not hasattr(self, "ids"):
            return
        closing.finish_refunds(self.uow())
        refunds = _refunds(self.database)
        for campaign in self.campaigns:
            if campaign.status != "cancelled":
                assert not any(key[0] == campaign.id for key in refunds)
                continue
            expected = {self.ids[user]: paid for user, paid in campaign.paid.items()}
            got = {user: amounts for (cid, user), amounts in refunds.items() if cid == campaign.id}
            assert got == {user: [paid] for user, paid in expected.items()}
            assert campaigns.get_campaign(self.uow(), campaign.id).balance == 0


def _refunds(database) -> dict[tuple[int, int], list[int]]:
    """Every refund movement: (campaign id, user id) -> the amounts refunded."""
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(
            """
            SELECT DISTINCT t.id, ce.campaign_id, a.user_id, t.amount
            FROM journal_transactions t
            JOIN journal_legs l ON l.transaction_id = t.id AND l.amount > 0
            JOIN ledger_accounts a ON a.id = l.account_id
            JOIN journal_legs e ON e.transaction_id = t.id AND e.amount < 0
            JOIN campaign_escrows ce ON ce.account_id = e.account_id
            WHERE t.kind = 'campaign_refund'
            ORDER BY t.id
            """
        )
        found: dict[tuple[int, int], list[int]] = {}
        for _, campaign_id, user_id, amount in cur.fetchall():
            found.setdefault((campaign_id, user_id), []).append(amount)
        conn.rollback()
    return found


def test_any_sequence_of_harambee_steps_keeps_the_money_exact(settings, clean_database):
    HarambeeMachine.database = clean_database
    HarambeeMachine.secrets = registration_secrets(settings)
    run_state_machine_as_test(
        HarambeeMachine,
        settings=hypothesis_settings(
            max_examples=40,
            stateful_step_count=40,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
