"""Cashback under any run of bills (hypothesis, real PostgreSQL): a drawn rule (rate,
monthly cap) and promotions budget; bills held, delivered, failed, delivered several at
once, reversed by an operator (again, with another refund, at once by two operators,
before delivery), cashback reversed on its own. A plain-Python model predicts every
wallet and the promotions account. After every step: the promotions account never
below zero and equal to the model, no user's month past the cap (counting only bills
not reversed), a reversed bill's cashback returned once (one bill_reversal each, the
returns summed equal to the model's), the ledger balanced."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

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
from app.domain.promotions import BASIS_POINTS
from app.errors import IdempotencyConflict
from app.services import adjustments
from app.services.adjustments import NotReversible
from app.services.bills import reversals
from app.services.bills.reversals import BillNotReversible
from tests.conftest import truncate_all
from tests.integration.test_ledger_concurrency import run_together
from tests.support.bills import rows
from tests.support.promotions import (
    airtime_rule,
    deliver,
    fund_promotions,
    hold_bill,
    promotions_balance,
    release,
)
from tests.support.wallets import (
    check_ledger,
    fund,
    phone_of,
    register,
    registration_secrets,
    wallet_balance,
)

KES = 100
USERS = 2
OPENING = 30_000 * KES
NOW = datetime(2026, 6, 15, 9, tzinfo=UTC)  # one Nairobi month: one cap per user


@dataclass
class Bill:
    reference: str
    user: int  # index
    amount: int
    status: str = "held"
    award: int = 0  # the cashback delivery paid
    award_tx: int | None = None
    award_reversed: bool = False  # by an operator's plain reversal of the cashback
    refund: str | None = None  # the refund reference that reversed it


class CashbackMachine(RuleBasedStateMachine):
    database = None
    secrets = None
    app_settings = None

    @initialize(
        rate=st.sampled_from([100, 500, 2_000, BASIS_POINTS]),
        cap=st.integers(1, 300).map(lambda k: k * KES),
        budget=st.integers(0, 400).map(lambda k: k * KES),
    )
    def setup(self, rate: int, cap: int, budget: int) -> None:
        truncate_all(self.database)
        box, pin_hash = self.secrets
        self.ids = [register(self.database, box, pin_hash, phone=phone_of(n)) for n in range(USERS)]
        for n in range(USERS):
            fund(self.database, phone_of(n), OPENING)
        if budget:
            fund_promotions(self.database, budget)
        airtime_rule(self.database, rate_bp=rate, cap=cap)
        self.rate, self.cap = rate, cap
        self.promotions = budget
        self.wallets = {n: OPENING for n in range(USERS)}
        self.bills: list[Bill] = []
        self.returned = 0  # cashback given back by bill reversals

    # ---- the model ---------------------------------------------------------------------

    def earned(self, user: int) -> int:
        return sum(b.award for b in self.bills if b.user == user and b.status == "delivered")

    def predicted(self, bill: Bill) -> int:
        value = min(bill.amount * self.rate // BASIS_POINTS, self.cap - self.earned(bill.user))
        return value if 0 < value <= self.promotions else 0

    def of(self, status: str) -> list[Bill]:
        return [b for b in self.bills if b.status == status]

    def award_of(self, bill: Bill) -> None:
        found = rows(
            self.database,
            "SELECT a.amount, a.transaction_id FROM cashback_awards a"
            " JOIN bill_payments p ON p.id = a.bill_payment_id WHERE p.reference = %(r)s",
            {"r": bill.reference},
        )
        bill.award, bill.award_tx = (int(found[0][0]), found[0][1]) if found else (0, None)

    # ---- bills -------------------------------------------------------------------------

    @rule(user=st.integers(0, USERS - 1), shillings=st.integers(10, 1_000))
    def hold(self, user: int, shillings: int) -> None:
        reference = hold_bill(
            CashbackMachine.app_settings,
            self.database,
            self.ids[user],
            phone_of(user),
            shillings * KES,
        )
        self.bills.append(Bill(reference, user, shillings * KES))
        self.wallets[user] -= shillings * KES

    @precondition(lambda self: self.of("held"))
    @rule(data=st.data())
    def deliver_one(self, data) -> None:
        bill = data.draw(st.sampled_from(self.of("held")))
        expected = self.predicted(bill)
        deliver(self.database, bill.reference, now=NOW)
        self.award_of(bill)
        assert bill.award == expected
        bill.status = "delivered"
        self.promotions -= bill.award
        self.wallets[bill.user] += bill.award

    @precondition(lambda self: len(self.of("held")) >= 2)
    @rule(data=st.data())
    def deliver_together(self, data) -> None:
        """Delivered at once: which gets the cap's rest depends on who locks first, so the
        database says who got what; the model checks it could have come so."""
        held = data.draw(
            st.lists(
                st.sampled_from(self.of("held")),
                min_size=2,
                max_size=4,
                unique_by=lambda b: b.reference,
            )
        )
        outcomes = run_together(
            [lambda b=b: deliver(self.database, b.reference, now=NOW) for b in held]
        )
        assert all(o is None for o in outcomes), outcomes
        for bill in held:
            self.award_of(bill)
            assert 0 <= bill.award <= bill.amount * self.rate // BASIS_POINTS
            bill.status = "delivered"
            self.promotions -= bill.award
            self.wallets[bill.user] += bill.award

    @precondition(lambda self: self.of("held"))
    @rule(data=st.data())
    def fail_one(self, data) -> None:
        bill = data.draw(st.sampled_from(self.of("held")))
        release(self.database, bill.reference)
        bill.status = "failed"
        self.wallets[bill.user] += bill.amount

    # ---- reversals ---------------------------------------------------------------------

    def reverse(self, bill: Bill, refund: str) -> reversals.BillReversal:
        return reversals.reverse_bill(
            UnitOfWork(self.database),
            bill_reference=bill.reference,
            refund_reference=refund,
            reason="refunded by the network",
        )

    def reversed_(self, bill: Bill, done: reversals.BillReversal, refund: str) -> None:
        back = 0 if bill.award_reversed else bill.award
        assert (done.cashback_returned, done.refunded) == (back, bill.amount - back)
        bill.status, bill.refund = "reversed", refund
        self.promotions += back
        self.returned += back
        self.wallets[bill.user] += bill.amount - back

    @precondition(lambda self: self.of("delivered"))
    @rule(data=st.data())
    def reverse_one(self, data) -> None:
        bill = data.draw(st.sampled_from(self.of("delivered")))
        refund = f"R-{uuid.uuid4().hex[:12]}"
        done = self.reverse(bill, refund)
        assert not done.replayed
        self.reversed_(bill, done, refund)

    @precondition(lambda self: self.of("delivered"))
    @rule(data=st.data())
    def two_operators_at_once(self, data) -> None:
        bill = data.draw(st.sampled_from(self.of("delivered")))
        refund = f"R-{uuid.uuid4().hex[:12]}"
        outcomes = run_together([lambda: self.reverse(bill, refund)] * 2)
        done = [o for o in outcomes if isinstance(o, reversals.BillReversal)]
        assert len(done) == 2 and sorted(o.replayed for o in done) == [False, True], outcomes
        assert done[0].transaction_id == done[1].transaction_id
        self.reversed_(bill, next(o for o in done if not o.replayed), refund)

    @precondition(lambda self: self.of("reversed"))
    @rule(data=st.data(), same=st.booleans())
    def reverse_again(self, data, same: bool) -> None:
        bill = data.draw(st.sampled_from(self.of("reversed")))
        if same:
            assert self.reverse(bill, bill.refund or "").replayed
        else:
            try:
                self.reverse(bill, "R-another")
                raise AssertionError("reversed twice")
            except IdempotencyConflict:
                pass

    @precondition(lambda self: self.of("held") + self.of("failed"))
    @rule(data=st.data())
    def reverse_not_delivered(self, data) -> None:
        bill = data.draw(st.sampled_from(self.of("held") + self.of("failed")))
        try:
            self.reverse(bill, f"R-{uuid.uuid4().hex[:12]}")
            raise AssertionError("a bill not delivered was reversed")
        except BillNotReversible:
            pass

    @precondition(lambda self: [b for b in self.bills if b.award and not b.award_reversed])
    @rule(data=st.data())
    def operator_reverses_a_cashback(self, data) -> None:
        bill = data.draw(
            st.sampled_from([b for b in self.bills if b.award and not b.award_reversed])
        )
        assert bill.award_tx is not None
        try:
            adjustments.reverse(UnitOfWork(self.database), transaction_id=bill.award_tx)
        except NotReversible:
            assert bill.status == "reversed"  # its bill's reversal returned it already
            return
        assert bill.status == "delivered"
        bill.award_reversed = True
        self.promotions += bill.award
        self.wallets[bill.user] -= bill.award

    # ---- what must always hold ---------------------------------------------------------

    @invariant()
    def money_is_where_the_model_says(self) -> None:
        if not hasattr(self, "ids"):
            return
        assert promotions_balance(self.database) == self.promotions >= 0
        for n, user_id in enumerate(self.ids):
            assert wallet_balance(self.database, user_id) == self.wallets[n]

    @invariant()
    def caps_hold_and_each_return_is_once(self) -> None:
        if not hasattr(self, "ids"):
            return
        for user, month in rows(
            self.database,
            "SELECT a.user_id, sum(a.amount) FROM cashback_awards a"
            " JOIN bill_payments p ON p.id = a.bill_payment_id"
            " WHERE p.status <> 'reversed' GROUP BY a.user_id",
        ):
            assert month <= self.cap, (user, month)
        [(reversals_, returned, journals)] = rows(
            self.database,
            "SELECT count(*), coalesce(sum(cashback_returned), 0),"
            " (SELECT count(*) FROM journal_transactions WHERE kind = 'bill_reversal')"
            " FROM bill_reversals",
        )
        assert reversals_ == journals == len(self.of("reversed"))
        assert returned == self.returned
        assert check_ledger(self.database).sound


def test_cashback_survives_any_run_of_bills_reversals_and_races(settings, crowd):
    CashbackMachine.database = crowd
    CashbackMachine.secrets = registration_secrets(settings)
    CashbackMachine.app_settings = settings
    run_state_machine_as_test(
        CashbackMachine,
        settings=hypothesis_settings(
            max_examples=8,
            stateful_step_count=15,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
