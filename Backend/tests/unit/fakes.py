"""A hand-written fake of the USSD port (app/ussd/ports.py), in memory.

It answers with the services' own types (Profile, Quote, Movement...), as the facade
does; tests/integration/test_ussd_port_contract.py holds the two to the same answers.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from app.db.repositories.ledger import TierLimits
from app.domain.models import PinCredential
from app.domain.records.ledger import StatementLine
from app.errors import (
    AlreadyRegistered,
    IdempotencyConflict,
    InsufficientFunds,
    InviteLimitReached,
    PinLocked,
    RecipientNotRegistered,
    ValidationFailed,
)
from app.services.accounts import Profile
from app.services.ledger import Movement, check_amount, check_limits
from app.services.pins import PinPolicy, lock_of
from app.services.registration import NewUser, validate_full_name
from app.services.transfers import MAX_TRANSFER, Quote, Recipient, TransferRequest
from tests.support import seeds
from tests.unit.fake_bills import FakeBills
from tests.unit.fake_merchants import FakeMerchants
from tests.unit.fake_mpesa import FakeMpesaServices
from tests.unit.fake_repeat import FakeRepeat
from tests.unit.fake_schedules import FakeSchedules
from tests.unit.fake_wages import FakeWages
from tests.unit.harambee_fakes import FakeHarambee

# Tier 1 ('basic'), every new user's, as the migrations seed it.
_basic = seeds.tier(1)
BASIC = TierLimits(_basic.tier, _basic.per_transaction, _basic.daily, _basic.rolling_30_days)


def fake_hash(pin: str) -> str:
    return "fake$" + hashlib.sha256(f"salt:{pin}".encode()).hexdigest()


def _refused(code: str) -> ValidationFailed:
    error = ValidationFailed(code)
    error.code = code
    return error


class FakeUssdServices(
    FakeMpesaServices,
    FakeHarambee,
    FakeMerchants,
    FakeSchedules,
    FakeRepeat,
    FakeBills,
    FakeWages,
):
    """In-memory users, PINs and lockout, wallets and transfers (and M-Pesa deposits and
    withdrawals: fake_mpesa.py; merchants and payments to them: fake_merchants.py;
    scheduled payments: fake_schedules.py; bills and airtime: fake_bills.py; wages:
    fake_wages.py),
    counting every side effect."""

    def __init__(self, policy: PinPolicy | None = None, invites_per_day: int = 5) -> None:
        self.users: dict[str, Profile] = {}
        self.pin_hashes: dict[int, str] = {}
        # user id -> lockout state (wrong PINs, lock end, locks so far), judged by the
        # real rule: PinPolicy.judge.
        self.pin_states: dict[int, PinCredential] = {}
        self.keys: dict[str, int] = {}
        self.attempts: dict[str, bool] = {}
        self.calls: list[str] = []
        # The real lockout rule (attempts, escalating lock lengths, when a reset is
        # required), the defaults the settings start from unless a test says otherwise.
        self.policy = policy or PinPolicy()
        self.invites_per_day = invites_per_day
        # money
        self.limits = BASIC
        self.balances: dict[int, int] = {}
        self.sent_today: dict[int, int] = {}
        self.sent_30_days: dict[int, int] = {}
        self.statements: dict[int, list[StatementLine]] = {}
        self.transfers: list[tuple[int, int, int, int]] = []  # sender, recipient, amount, fee
        self.results: dict[str, tuple[tuple, Movement]] = {}  # idempotency key -> result
        self.invited: set[tuple[int, str]] = set()
        self.sms: list[tuple[str, str]] = []  # (to, template)
        self.clock = datetime(2026, 3, 14, 6, 30, tzinfo=UTC)
        self.references = 0

    # ---- arranging a test -----------------------------------------------------------

    def add_user(self, phone: str, name: str, pin: str, language: str = "en") -> Profile:
        user_id = len(self.users) + 1
        profile = Profile(
            user_id=user_id,
            paytrace_id=f"PT{user_id:08d}",
            phone=phone,
            full_name=name,
            language=language,
            role="worker",
            stellar_address="G" + "A" * 55,
            activation_status="pending",
        )
        self.users[phone] = profile
        self.pin_hashes[user_id] = fake_hash(pin)
        self.balances[user_id] = 0
        return profile

    def cash_in(self, phone: str, amount: int) -> None:
        user_id = self.users[phone].user_id
        self.balances[user_id] += amount
        self._record(user_id, "cash_in", amount, None)

    def record(self, phone: str, kind: str, amount: int, counterparty: str | None = None) -> None:
        """A movement on the statement (a reversal...), with the balance moved by it."""
        user_id = self.users[phone].user_id
        self.balances[user_id] += amount
        self._record(user_id, kind, amount, counterparty)

    def _record(
        self, user_id: int, kind: str, amount: int, counterparty: str | None, reference: str = ""
    ) -> str:
        """One line on user_id's statement; both sides of a transfer share its reference."""
        self.clock += timedelta(hours=7)
        self.references += 0 if reference else 1
        reference = reference or f"REF{self.references:07d}"
        lines = self.statements.setdefault(user_id, [])
        entry = ledger_line(self.clock, kind, amount, reference, counterparty)
        lines.insert(0, replace(entry, leg_id=len(lines) + 1, balance_after=self.balances[user_id]))
        return reference

    def _user(self, user_id: int) -> Profile:
        return next(u for u in self.users.values() if u.user_id == user_id)

    # ---- accounts and PINs ---------------------------------------------------------

    async def profile(self, phone: str) -> Profile | None:
        self.calls.append("profile")
        return self.users.get(phone)

    async def hash_pin(self, pin: str) -> str:
        return fake_hash(pin)

    async def pin_matches(self, pin_hash: str, pin: str) -> bool:
        return pin_hash == fake_hash(pin)

    async def register(self, new: NewUser) -> Profile:
        self.calls.append("register")
        key = new.registration_key
        if key in self.keys:
            return self._user(self.keys[key])
        if new.phone in self.users:
            raise AlreadyRegistered("taken")
        profile = self.add_user(new.phone, new.full_name, "0000", new.language)
        self.pin_hashes[profile.user_id] = new.pin_hash
        self.keys[key] = profile.user_id
        return profile

    def _pin_state(self, user_id: int) -> PinCredential:
        return self.pin_states.get(user_id) or PinCredential(user_id, "", 0, None)

    def lock_for(self, user_id: int, seconds: int) -> datetime:
        """Lock the user's PIN for `seconds` from now (as another session would); its end."""
        until = datetime.now(UTC) + timedelta(seconds=seconds)
        self.pin_states[user_id] = replace(self._pin_state(user_id), locked_until=until)
        return until

    def require_reset(self, user_id: int) -> None:
        """Lock the user's PIN until a reset (as the last of the timed locks does)."""
        self.pin_states[user_id] = replace(self._pin_state(user_id), reset_required=True)

    def lift_lock(self, user_id: int) -> None:
        """Let a timed lock run out, as the clock would."""
        passed = datetime.now(UTC) - timedelta(seconds=1)
        self.pin_states[user_id] = replace(self._pin_state(user_id), locked_until=passed)

    def _lock(self, user_id: int) -> PinLocked | None:
        return lock_of(self._pin_state(user_id), datetime.now(UTC))

    def _check_pin(self, user_id: int, pin: str, attempt_key: str) -> None:
        """As pins.verify_pin, by the same rule (PinPolicy.judge): only the storage
        and the SMS outbox are the fake's."""
        judged = self.policy.judge(
            self._pin_state(user_id),
            previous=self.attempts.get(attempt_key),
            is_right=lambda: self.pin_hashes[user_id] == fake_hash(pin),
            now=datetime.now(UTC),
        )
        if judged.counted:
            self.attempts[attempt_key] = judged.right
            self.pin_states[user_id] = judged.state
        if judged.locked:
            template = "pin_locked" if judged.state.locked_until else "pin_reset_required"
            self.sms.append((self._user(user_id).phone, template))
        if judged.error is not None:
            raise judged.error

    async def verify_pin(self, *, user_id: int, pin: str, attempt_key: str) -> None:
        self.calls.append("verify_pin")
        self._check_pin(user_id, pin, attempt_key)

    async def pin_lock(self, *, user_id: int) -> PinLocked | None:
        self.calls.append("pin_lock")
        return self._lock(user_id)

    async def set_pin(self, *, user_id: int, pin_hash: str, key: str) -> None:
        self.calls.append("set_pin")
        self.pin_hashes[user_id] = pin_hash

    async def wallet_status(self, *, user_id: int) -> str:
        self.calls.append("wallet_status")
        return self._user(user_id).activation_status

    async def set_language(self, *, user_id: int, language: str) -> Profile:
        self.calls.append("set_language")
        phone = self._user(user_id).phone
        self.users[phone] = replace(self.users[phone], language=language)
        return self.users[phone]

    def validate_name(self, raw: str) -> str:
        return validate_full_name(raw)  # pure: the real rule, not a copy of it

    # ---- money ---------------------------------------------------------------------

    async def find_recipient(self, *, sender_user_id: int, phone: str) -> Recipient:
        self.calls.append("find_recipient")
        user = self.users.get(phone)
        if user is None:
            raise RecipientNotRegistered("not registered")
        if user.user_id == sender_user_id:
            raise _refused("send_to_self")
        return Recipient(user.user_id, user.full_name, user.phone)

    async def invite(self, *, sender_user_id: int, phone: str) -> bool:
        self.calls.append("invite")
        if phone in self.users:
            raise _refused("already_registered")
        if (sender_user_id, phone) in self.invited:
            return False
        if sum(sender == sender_user_id for sender, _ in self.invited) >= self.invites_per_day:
            raise InviteLimitReached(self.invites_per_day)
        self.invited.add((sender_user_id, phone))
        self.sms.append((phone, "invite"))
        return True

    def _check_limits(self, user_id: int, amount: int) -> None:
        """The real rule on what the user sent today and in 30 days, every outflow."""
        check_limits(
            self.limits, amount, self.sent_today.get(user_id, 0), self.sent_30_days.get(user_id, 0)
        )

    def _sent(self, user_id: int, amount: int) -> None:
        for totals in (self.sent_today, self.sent_30_days):
            totals[user_id] = totals.get(user_id, 0) + amount

    def _quote(self, sender_user_id: int, amount: int) -> Quote:
        """As transfers.quote_transfer, in its order: amount, limits, fee band, balance."""
        check_amount(amount, maximum=MAX_TRANSFER)
        self._check_limits(sender_user_id, amount)
        fee = seeds.fee("transfer", amount)
        if fee is None:
            raise _refused("invalid_amount")
        balance = self.balances[sender_user_id]
        if balance < amount + fee:
            raise InsufficientFunds(balance=balance, needed=amount + fee)
        return Quote(amount=amount, fee=fee, balance=balance)

    async def quote_transfer(self, *, sender_user_id: int, amount: int) -> Quote:
        self.calls.append("quote_transfer")
        return self._quote(sender_user_id, amount)

    async def send_money(
        self, request: TransferRequest, *, pin: str, attempt_key: str | None = None
    ) -> Movement:
        self.calls.append("send_money")
        sender_user_id, amount = request.sender_user_id, request.amount
        recipient_phone, key = request.recipient_phone, request.idempotency_key
        self._check_pin(sender_user_id, pin, attempt_key or f"send:{key}")
        asked = (sender_user_id, recipient_phone, amount, request.note)
        if key in self.results:
            earlier_request, earlier = self.results[key]
            if earlier_request != asked:
                raise IdempotencyConflict("key reused")
            return replace(earlier, replayed=True)
        recipient = self.users.get(recipient_phone)
        if recipient is None:
            raise RecipientNotRegistered("not registered")
        quote = self._quote(sender_user_id, amount)
        sender = self._user(sender_user_id)
        receiver_id = recipient.user_id
        self.balances[sender_user_id] -= quote.total
        self.balances[receiver_id] += amount
        self._sent(sender_user_id, amount)
        reference = self._record(sender_user_id, "transfer", -quote.total, recipient.full_name)
        self._record(receiver_id, "transfer", amount, sender.full_name, reference)
        self.transfers.append((sender_user_id, receiver_id, amount, quote.fee))
        self.sms += [(sender.phone, "transfer_sent"), (recipient_phone, "transfer_received")]
        balances = {
            sender_user_id: self.balances[sender_user_id],
            receiver_id: self.balances[receiver_id],
        }
        sent = Movement(
            len(self.transfers), reference, "transfer", amount, quote.fee, self.clock, balances
        )
        self.results[key] = (asked, sent)
        return sent

    async def balance(self, *, user_id: int, pin: str, attempt_key: str) -> int:
        self.calls.append("balance")
        self._check_pin(user_id, pin, attempt_key)
        return self.balances[user_id]

    async def mini_statement(
        self, *, user_id: int, pin: str, attempt_key: str
    ) -> list[StatementLine]:
        self.calls.append("mini_statement")
        self._check_pin(user_id, pin, attempt_key)
        return self.statements.get(user_id, [])[:9]


def ledger_line(
    created_at: datetime, kind: str, amount: int, reference: str, counterparty: str | None
) -> StatementLine:
    """A statement line as the ledger reads it, with what a USSD statement shows."""
    return StatementLine(
        transaction_id=0,
        reference=reference,
        kind=kind,
        created_at=created_at,
        amount=amount,
        balance_after=0,
        counterparty_name=counterparty,
        counterparty_phone=None,
        leg_id=0,
        fee=0,
        note=None,
    )
