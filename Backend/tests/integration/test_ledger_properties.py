"""Any sequence of movements leaves the ledger exact (hypothesis, real PostgreSQL).

A state machine registers users, cashes in, sends money (above and below the
balance, across the fee bands, to oneself, to unregistered numbers), pays a
merchant's till (its fee taken from the merchant's side), repeats
requests with their idempotency key, reuses a key for another request,
reverses movements and marks accounts locked last or unmarks them (the lock order
changes who waits, never the books), again and again. A plain-Python model predicts every outcome:
what is refused and why, the fee, the balances. After every step the database
must agree with the model and with double entry.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

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
from app.domain.merchants import FeeRule
from app.errors import (
    IdempotencyConflict,
    InsufficientFunds,
    LimitExceeded,
    MerchantNotFound,
    NotFound,
    RecipientNotRegistered,
    ValidationFailed,
)
from app.services import adjustments, lock_order, merchants, transfers
from app.services.adjustments import MAX_CASH_IN, NotReversible
from app.services.ledger import Movement
from app.services.lock_order import Owner
from app.services.merchant_payments import payments as merchant_payments
from app.services.merchant_payments.payments import MerchantPaymentRequest
from app.services.transfers import TransferRequest
from tests.conftest import truncate_all
from tests.support import seeds
from tests.support.merchants import application
from tests.support.wallets import (
    LedgerCheck,
    check_ledger,
    fund,
    ledger_snapshot,
    phone_of,
    register,
    registration_secrets,
    wallet_balance,
)

# The seeded tier-1 limits and transfer fee bands, read from the migrations
# (tests/support/seeds.py): the model predicts with them, never with a copy.
PER_TRANSACTION, DAILY = seeds.tier(1).per_transaction, seeds.tier(1).daily
FEE_BANDS = tuple((b.min_amount, b.max_amount, b.fee) for b in seeds.fee_bands("transfer"))
# Every limit counts Nairobi days: one fixed moment keeps a run inside one day.
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MAX_USERS = 5
FEES, FLOAT, SUSPENSE, CLEARING = "fees", "mpesa_float", "suspense", "stellar_clearing"
HOLDS = "mpesa_hold"  # withdrawals to M-Pesa wait there; none are made here
BILL_HOLDS, BILL_CLEARING = "bill_hold", "bill_clearing"  # bills: none are paid here
STELLAR_HOLDS = "stellar_hold"  # refunds on Stellar wait there; none are made here
# Cashback and referral bonuses: none here (test_cashback.py, test_referrals.py).
PROMOTIONS = "promotions"
MERCHANT, TILL, NO_TILL = "merchant", "512345", "999999"
# A merchant's fee with a minimum, so small payments hit the "never above the payment" cap.
MERCHANT_FEE = FeeRule(50, 100, 20_000)
MERCHANT_PHONE = "+254711000101"  # tests/support/merchants.py's contact phone

BAND_EDGES = sorted(
    {edge for low, high, _ in FEE_BANDS for edge in (low, high) if edge <= PER_TRANSACTION}
    | {PER_TRANSACTION, PER_TRANSACTION + 1}
)
transfer_amounts = st.one_of(
    st.sampled_from(BAND_EDGES), st.integers(1, 600_000), st.integers(1, PER_TRANSACTION + 100)
)
# 20M lets a user reach the daily limit (15M) in three sends.
opening_amounts = st.one_of(
    st.sampled_from([50_000, 1_000_000, 20_000_000]), st.integers(1, 5_000_000)
)
cash_in_amounts = st.one_of(
    st.sampled_from([10_000, 50_500, 2_000_000, 7_010_000, MAX_CASH_IN, MAX_CASH_IN + 1]),
    st.integers(1, 3_000_000),
)


def fee_for(amount: int) -> int:
    return next(fee for low, high, fee in FEE_BANDS if low <= amount <= high)


@dataclass(frozen=True)
class Send:
    sender: int
    to: str
    amount: int
    client_key: str

    @property
    def key(self) -> str:
        """As the ledger stores it: scoped to the sender."""
        return f"transfer:{self.sender}:{self.client_key}"


@dataclass(frozen=True)
class CashIn:
    phone: str
    amount: int
    reference: str

    @property
    def key(self) -> str:
        return f"cash_in:{self.reference}"


@dataclass(frozen=True)
class Pay:
    payer: int
    till: str
    amount: int
    client_key: str

    @property
    def key(self) -> str:
        return f"merchant_payment:{self.payer}:{self.client_key}"


@dataclass(frozen=True)
class Refused:
    error: type[Exception]
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Posting:
    """What a movement the model accepts must post."""

    kind: str
    amount: int
    fee: int
    legs: dict[int | str, int]  # account (user id or system code) -> leg, in leg order
    sms: tuple[tuple[int | str, str], ...]  # (user id or phone, template) of each SMS
    request: Send | CashIn | Pay | None = None
    reverses: int | None = None


@dataclass(frozen=True)
class Posted:
    posting: Posting
    transaction_id: int
    reference: str
    created_at: datetime
    balances: dict[int, int]  # Movement.balances as first answered


@dataclass(frozen=True)
class Replay:
    earlier: Posted


class Model:
    """The ledger as it should be, in plain Python."""

    def __init__(self) -> None:
        self.balances: dict[int | str, int] = {
            FEES: 0,
            FLOAT: 0,
            SUSPENSE: 0,
            CLEARING: 0,
            HOLDS: 0,
            MERCHANT: 0,
            BILL_HOLDS: 0,
            BILL_CLEARING: 0,
            STELLAR_HOLDS: 0,
            PROMOTIONS: 0,
        }
        self.users: dict[str, int] = {}  # phone -> user id
        self.phones: dict[int, str] = {}
        self.sent_today: dict[int, int] = {}
        self.by_key: dict[str, Posted] = {}
        self.by_id: dict[int, Posted] = {}
        self.reversal_of: dict[int, Posted] = {}
        self.sms: Counter[tuple[str, str]] = Counter()  # (phone, template) queued

    def add_user(self, phone: str, user_id: int) -> None:
        self.users[phone], self.phones[user_id] = user_id, phone
        self.balances[user_id] = 0
        self.sms[phone, "welcome"] += 1

    def predict_send(self, send: Send) -> Refused | Replay | Posting:
        recipient = self.users.get(send.to)
        if recipient is None:
            return Refused(RecipientNotRegistered)
        if send.key in self.by_key:
            return self._replay_or_conflict(send)
        if recipient == send.sender:
            return Refused(ValidationFailed, {"code": "send_to_self"})
        if send.amount > PER_TRANSACTION:
            return Refused(LimitExceeded, {"limit": "per_transaction", "allowed": PER_TRANSACTION})
        sent = self.sent_today.get(send.sender, 0)
        if sent + send.amount > DAILY:
            return Refused(LimitExceeded, {"limit": "daily", "allowed": DAILY - sent})
        fee = fee_for(send.amount)
        balance = self.balances[send.sender]
        if balance < send.amount + fee:
            return Refused(InsufficientFunds, {"balance": balance, "needed": send.amount + fee})
        legs = {send.sender: -(send.amount + fee), recipient: send.amount}
        if fee:
            legs[FEES] = fee
        sms = ((send.sender, "transfer_sent"), (recipient, "transfer_received"))
        return Posting("transfer", send.amount, fee, legs, sms, request=send)

    def predict_pay(self, pay: Pay) -> Refused | Replay | Posting:
        if pay.till != TILL:
            return Refused(MerchantNotFound)
        if pay.key in self.by_key:
            return self._replay_or_conflict(pay)
        if pay.amount > PER_TRANSACTION:
            return Refused(LimitExceeded, {"limit": "per_transaction", "allowed": PER_TRANSACTION})
        sent = self.sent_today.get(pay.payer, 0)
        if sent + pay.amount > DAILY:
            return Refused(LimitExceeded, {"limit": "daily", "allowed": DAILY - sent})
        balance = self.balances[pay.payer]
        if balance < pay.amount:
            return Refused(InsufficientFunds, {"balance": balance, "needed": pay.amount})
        fee = min(pay.amount, MERCHANT_FEE.fee_for(pay.amount))
        legs = {pay.payer: -pay.amount, MERCHANT: pay.amount - fee, FEES: fee}
        sms = ((pay.payer, "merchant_paid"), (MERCHANT_PHONE, "merchant_payment_received"))
        return Posting("merchant_payment", pay.amount, fee, legs, sms, request=pay)

    def predict_cash_in(self, cash: CashIn) -> Refused | Replay | Posting:
        if cash.amount > MAX_CASH_IN:
            return Refused(ValidationFailed, {"code": "invalid_amount"})
        user = self.users.get(cash.phone)
        if user is None:
            return Refused(NotFound)
        if cash.key in self.by_key:
            return self._replay_or_conflict(cash)
        legs = {FLOAT: -cash.amount, user: cash.amount}
        return Posting("cash_in", cash.amount, 0, legs, ((user, "cash_in"),), request=cash)

    def predict_reversal(self, transaction_id: int) -> Refused | Replay | Posting:
        original = self.by_id[transaction_id].posting
        if original.kind == "reversal":
            return Refused(NotReversible)
        if transaction_id in self.reversal_of:
            return Replay(self.reversal_of[transaction_id])
        for account, leg in original.legs.items():
            if isinstance(account, int) and self.balances[account] < leg:
                balance = self.balances[account]
                return Refused(InsufficientFunds, {"balance": balance, "needed": leg})
        legs = {account: -leg for account, leg in original.legs.items()}
        sms = tuple((account, "reversal") for account in legs if isinstance(account, int))
        return Posting(
            "reversal", original.amount, original.fee, legs, sms, reverses=transaction_id
        )

    def _replay_or_conflict(self, request: Send | CashIn | Pay) -> Refused | Replay:
        earlier = self.by_key[request.key]
        if earlier.posting.request == request:
            return Replay(earlier)
        return Refused(IdempotencyConflict)

    def post(self, posting: Posting, moved: Movement) -> Posted:
        for account, leg in posting.legs.items():
            self.balances[account] += leg
        if posting.kind in ("transfer", "merchant_payment"):  # outflows against the limits
            request = posting.request
            sender = request.sender if isinstance(request, Send) else request.payer
            self.sent_today[sender] = self.sent_today.get(sender, 0) + posting.amount
        for to, template in posting.sms:
            self.sms[self.phones[to] if isinstance(to, int) else to, template] += 1
        balances = {a: self.balances[a] for a in posting.legs if isinstance(a, int)}
        posted = Posted(posting, moved.transaction_id, moved.reference, moved.created_at, balances)
        self.by_id[moved.transaction_id] = posted
        if posting.request is not None:
            self.by_key[posting.request.key] = posted
        if posting.reverses is not None:
            self.reversal_of[posting.reverses] = posted
        return posted


# How the steps of a run ended: the test checks the run reached what it is about.
OUTCOMES: Counter[str] = Counter()


def _outcome(expected: Refused | Replay | Posting) -> str:
    if isinstance(expected, Refused):
        return f"refused: {expected.error.__name__} {expected.details.get('limit', '')}".strip()
    if isinstance(expected, Replay):
        return f"replayed: {expected.earlier.posting.kind}"
    return f"posted: {expected.kind}" + (" with fee" if expected.fee else "")


class LedgerMachine(RuleBasedStateMachine):
    # Set by the test on a subclass: the run's database and registration secrets.
    database = box = pin_hash = None

    def __init__(self) -> None:
        super().__init__()
        truncate_all(self.database)
        onboarded = merchants.onboard(
            UnitOfWork(self.database), application(TILL, fee=MERCHANT_FEE)
        )
        self.merchant_id = onboarded.merchant.id
        self.model = Model()
        self.requests: list[Send | CashIn | Pay] = []  # every request made, refused ones too
        self.counter = 0

    def _next(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"

    def _users(self) -> st.SearchStrategy[int]:
        return st.sampled_from(sorted(self.model.users.values()))

    # ---- talking to the services -------------------------------------------------

    def _call(self, request: Send | CashIn | Pay):
        uow = UnitOfWork(self.database)
        if isinstance(request, Pay):
            paid = merchant_payments.pay(
                uow,
                MerchantPaymentRequest(
                    request.payer, request.till, request.amount, request.client_key
                ),
                now=NOW,
            )
            # As a Movement: the fee the journal records is the merchant's.
            return Movement(
                paid.transaction_id,
                paid.reference,
                "merchant_payment",
                paid.amount,
                paid.merchant_fee,
                paid.created_at,
                {request.payer: paid.balance},
                paid.replayed,
            )
        if isinstance(request, Send):
            return transfers.transfer(
                uow,
                TransferRequest(
                    sender_user_id=request.sender,
                    recipient_phone=request.to,
                    amount=request.amount,
                    idempotency_key=request.client_key,
                ),
                now=NOW,
            )
        return adjustments.cash_in(
            uow, phone=request.phone, amount=request.amount, reference=request.reference
        )

    def _submit(self, request: Send | CashIn | Pay) -> None:
        if isinstance(request, Pay):
            expected = self.model.predict_pay(request)
        elif isinstance(request, Send):
            expected = self.model.predict_send(request)
        else:
            expected = self.model.predict_cash_in(request)
        self._check(expected, lambda: self._call(request))

    def _check(self, expected: Refused | Replay | Posting, call) -> None:
        OUTCOMES[_outcome(expected)] += 1
        if isinstance(expected, Refused):
            try:
                call()
            except Exception as exc:  # the exact class is the assertion
                assert type(exc) is expected.error, repr(exc)
                assert {name: getattr(exc, name) for name in expected.details} == expected.details
                return
            raise AssertionError(f"expected {expected.error.__name__}, the movement was made")
        moved = call()
        if isinstance(expected, Replay):
            earlier = expected.earlier
            assert moved.replayed
            assert (moved.transaction_id, moved.reference, moved.created_at) == (
                earlier.transaction_id,
                earlier.reference,
                earlier.created_at,
            )
            assert moved.balances == earlier.balances
            return
        assert not moved.replayed
        assert (moved.kind, moved.amount, moved.fee) == (
            expected.kind,
            expected.amount,
            expected.fee,
        )
        posted = self.model.post(expected, moved)
        assert moved.balances == posted.balances

    # ---- rules ---------------------------------------------------------------------

    @initialize(first=opening_amounts, second=opening_amounts)
    def two_funded_users(self, first: int, second: int) -> None:
        # Hypothesis switches whole rules off in some examples (swarm testing): the
        # users start with money so that sending is never starved.
        for amount in (first, second):
            self.register_a_user()
            phone = phone_of(len(self.model.users))
            self._submit(CashIn(phone, amount, self._next("OPENING")))

    @precondition(lambda self: len(self.model.users) < MAX_USERS)
    @rule()
    def register_a_user(self) -> None:
        phone = phone_of(len(self.model.users) + 1)
        user_id = register(self.database, self.box, self.pin_hash, phone=phone)
        self.model.add_user(phone, user_id)

    @precondition(lambda self: self.model.users)
    @rule(data=st.data(), amount=cash_in_amounts)
    def cash_in(self, data: st.DataObject, amount: int) -> None:
        # Now and then to a number no one registered.
        phones = sorted(self.model.users) * 4 + [phone_of(902)]
        phone = data.draw(st.sampled_from(phones), label="phone")
        request = CashIn(phone, amount, self._next("AGENT"))
        self.requests.append(request)
        self._submit(request)

    @precondition(lambda self: self.model.users)
    @rule(data=st.data(), amount=transfer_amounts)
    def send_money(self, data: st.DataObject, amount: int) -> None:
        self._send(data, amount)

    @precondition(lambda self: self.model.users)
    @rule(data=st.data(), amount=st.integers(1, 60_000))
    def send_pocket_money(self, data: st.DataObject, amount: int) -> None:
        self._send(data, amount)  # the first three fee bands, where most sends are

    @precondition(lambda self: self.model.users)
    @rule(data=st.data(), amount=st.integers(2_000_001, PER_TRANSACTION + 100))
    def send_a_large_amount(self, data: st.DataObject, amount: int) -> None:
        self._send(data, amount)  # the top band, the per-transaction and daily limits

    def _send(self, data: st.DataObject, amount: int) -> None:
        sender = data.draw(self._users(), label="sender")
        own = next(phone for phone, user in self.model.users.items() if user == sender)
        others = sorted(set(self.model.users) - {own}) or [own]
        # Mostly to another user; now and then to oneself or an unregistered number.
        to = data.draw(
            st.sampled_from(others * 8 + [own, phone_of(900), phone_of(901)]), label="to"
        )
        request = Send(sender, to, amount, self._next("hop"))
        self.requests.append(request)
        self._submit(request)

    @precondition(lambda self: self.model.users)
    @rule(data=st.data(), amount=transfer_amounts)
    def pay_a_merchant(self, data: st.DataObject, amount: int) -> None:
        payer = data.draw(self._users(), label="payer")
        # Mostly the merchant's till; now and then one no merchant has.
        till = data.draw(st.sampled_from([TILL] * 8 + [NO_TILL]), label="till")
        request = Pay(payer, till, amount, self._next("till"))
        self.requests.append(request)
        self._submit(request)

    @precondition(lambda self: self.model.users)
    @rule(data=st.data(), locked_last=st.booleans())
    def mark_an_account_locked_last(self, data: st.DataObject, locked_last: bool) -> None:
        # The lock order (migration 0058) changes who waits for whom, never the books:
        # the model knows nothing of it, and every invariant must still hold.
        owners = [Owner(phone=p) for p in sorted(self.model.users)]
        owner = data.draw(
            st.sampled_from([*owners, Owner(merchant_id=self.merchant_id)]), label="owner"
        )
        lock_order.mark_locked_last(UnitOfWork(self.database), owner, locked_last)
        OUTCOMES[f"marked: {locked_last}"] += 1

    @precondition(lambda self: self.requests)
    @rule(data=st.data())
    def repeat_a_request_with_its_key(self, data: st.DataObject) -> None:
        # Posted: replays the original. Refused before: nothing was kept, so it is
        # decided afresh against the balances of now.
        self._submit(data.draw(st.sampled_from(self.requests), label="request"))

    @precondition(lambda self: self.model.by_key)
    @rule(data=st.data(), extra=st.integers(1, 50_000))
    def reuse_a_key_for_another_request(self, data: st.DataObject, extra: int) -> None:
        keys = sorted(self.model.by_key)
        earlier = self.model.by_key[data.draw(st.sampled_from(keys), label="key")]
        original = earlier.posting.request
        other = replace(original, amount=original.amount + extra)
        others = [u for u in self.model.users.values() if u != getattr(original, "sender", None)]
        if isinstance(original, Send) and others and data.draw(st.booleans(), label="switch"):
            other = replace(original, sender=data.draw(st.sampled_from(sorted(others))))
        self._submit(other)

    @precondition(lambda self: self.model.by_id)
    @rule(data=st.data())
    def reverse_a_movement(self, data: st.DataObject) -> None:
        transaction_id = data.draw(st.sampled_from(sorted(self.model.by_id)), label="tx")
        self._reverse(transaction_id)

    @precondition(lambda self: self.model.reversal_of)
    @rule(data=st.data())
    def reverse_a_reversed_movement_again(self, data: st.DataObject) -> None:
        transaction_id = data.draw(st.sampled_from(sorted(self.model.reversal_of)), label="tx")
        self._reverse(transaction_id)

    def _reverse(self, transaction_id: int) -> None:
        expected = self.model.predict_reversal(transaction_id)
        self._check(
            expected,
            lambda: adjustments.reverse(
                UnitOfWork(self.database), transaction_id=transaction_id, reason="support"
            ),
        )

    # ---- invariants --------------------------------------------------------------

    @invariant()
    def double_entry_holds(self) -> None:
        # Legs sum to zero, overall and per transaction; no wallet below zero;
        # every balance is the sum of its legs.
        assert check_ledger(self.database) == LedgerCheck(0, 0, 0, 0, 0)

    @invariant()
    def database_agrees_with_the_model(self) -> None:
        found = ledger_snapshot(self.database)
        assert found.balances == self.model.balances
        assert found.outflows == {u: sent for u, sent in self.model.sent_today.items() if sent}
        assert found.journal_transactions == len(self.model.by_id)
        assert Counter((to, template) for _, to, template in found.sms) == self.model.sms


# Bounded for CI: a few seconds on two cores. Raise max_examples locally to dig deeper.
CI_BUDGET = hypothesis_settings(
    max_examples=20,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    report_multiple_bugs=False,  # a failure shrinks once, not per distinct error
)


def test_any_sequence_of_movements_keeps_the_ledger_exact(clean_database, settings):
    box, pin_hash = registration_secrets(settings)
    machine = type(
        "Ledger", (LedgerMachine,), {"database": clean_database, "box": box, "pin_hash": pin_hash}
    )
    OUTCOMES.clear()
    run_state_machine_as_test(machine, settings=CI_BUDGET)

    # The run reached what it is about, not only refusals.
    seen = {" ".join(outcome.split()[:2]) for outcome in OUTCOMES}
    assert {"posted: transfer", "posted: reversal", "replayed: reversal"} <= seen, OUTCOMES
    assert "posted: merchant_payment" in seen, OUTCOMES
    assert {"refused: InsufficientFunds", "refused: IdempotencyConflict"} <= seen, OUTCOMES


# ---- keys chosen by callers never collide with the ledger's own keys ------------------
#
# Keys are scoped per movement kind and sender: what one caller chooses can never
# block another movement (transfers are stored as 'transfer:<user id>:<key>').


@pytest.fixture
def amani_and_baraka(clean_database, settings):
    box, pin_hash = registration_secrets(settings)
    amani = register(clean_database, box, pin_hash, phone=phone_of(1), name="Amani Otieno")
    baraka = register(clean_database, box, pin_hash, phone=phone_of(2), name="Baraka Kiprop")
    fund(clean_database, phone_of(1), 500_000)
    fund(clean_database, phone_of(2), 500_000)
    return amani, baraka


def _send(database, sender: int, to: str, amount: int, key: str):
    request = TransferRequest(
        sender_user_id=sender, recipient_phone=to, amount=amount, idempotency_key=key
    )
    return transfers.transfer(UnitOfWork(database), request)


def test_a_receivers_chosen_key_cannot_block_the_reversal_of_a_transfer(
    clean_database, amani_and_baraka
):
    amani, baraka = amani_and_baraka
    sent = _send(clean_database, amani, phone_of(2), 100_000, key="hop-1")
    # The receiver picks, as an API client may, the key the reversal will use.
    _send(clean_database, baraka, phone_of(1), 1_000, key=f"reversal:{sent.transaction_id}")

    undone = adjustments.reverse(UnitOfWork(clean_database), transaction_id=sent.transaction_id)

    assert (undone.kind, undone.replayed) == ("reversal", False)
    assert wallet_balance(clean_database, amani) == 500_000 + 1_000


def test_a_senders_chosen_key_cannot_block_an_agents_cash_in(clean_database, amani_and_baraka):
    amani, baraka = amani_and_baraka
    # The receipt number the customer reads off the agent's M-Pesa message.
    _send(clean_database, amani, phone_of(2), 1_000, key="cash_in:QK7RT2X9LM")

    credited = adjustments.cash_in(
        UnitOfWork(clean_database), phone=phone_of(2), amount=20_000, reference="QK7RT2X9LM"
    )

    assert (credited.kind, credited.replayed) == ("cash_in", False)
    assert wallet_balance(clean_database, baraka) == 500_000 + 1_000 + 20_000


def test_two_senders_may_choose_the_same_key(clean_database, amani_and_baraka):
    amani, baraka = amani_and_baraka
    first = _send(clean_database, amani, phone_of(2), 1_000, key="1")

    second = _send(clean_database, baraka, phone_of(1), 2_000, key="1")

    assert second.transaction_id != first.transaction_id and not second.replayed
    assert wallet_balance(clean_database, baraka) == 500_000 + 1_000 - 2_000
