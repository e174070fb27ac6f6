"""M-Pesa reconciliation, pure: what PayTrace moved through M-Pesa (deposits,
withdrawals, merchant payouts, paybill and STK payments of pay orders, their reversals,
B2B bills) against M-Pesa's account statement, for one day in East Africa Time.

Which day a thing belongs to decides where a difference is reported, and each
difference must be reported once, in one day's report, even when a deposit is paid at
23:59:58 and credited at 00:00:01:

- a matched pair belongs to the day of M-Pesa's entry (M-Pesa's clock is the
  statement's);
- a PayTrace movement M-Pesa has no entry for belongs to the day PayTrace recorded it;
- a statement entry PayTrace has no movement for belongs to its own day.

So the caller passes PayTrace's movements of the day and its neighbours, and the
statements of the day and its neighbours: a movement matched to yesterday's entry is
yesterday's business, not a "missing at M-Pesa" today.

Keys, strongest first: M-Pesa's receipt (MpesaReceiptNumber, B2C TransactionID), then
the request's id at M-Pesa (CheckoutRequestID, B2C ConversationID), then PayTrace's
own reference, which PayTrace sends as the STK AccountReference and the B2C Occasion.
An entry is matched at most once. A receipt the statement lists twice, or an entry a
second PayTrace record claims by the same key, is a duplicate. Amounts are integer
cents throughout.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Literal

EAT = timezone(timedelta(hours=3), "EAT")

Direction = Literal["in", "out"]  # in: paid in to PayTrace; out: paid out (B2C, B2B, reversal)

MISSING_AT_MPESA = "missing_at_mpesa"  # PayTrace moved money; M-Pesa has no entry
MISSING_AT_PAYTRACE = "missing_at_paytrace"  # M-Pesa has an entry PayTrace knows nothing of
AMOUNT_MISMATCH = "amount_mismatch"  # both moved money, not the same amount
STATE_MISMATCH = "state_mismatch"  # M-Pesa paid; PayTrace's ledger did not move it
DUPLICATE = "duplicate"  # M-Pesa lists a receipt twice, or two records claim one entry
KINDS = (MISSING_AT_MPESA, MISSING_AT_PAYTRACE, AMOUNT_MISMATCH, STATE_MISMATCH, DUPLICATE)

# What a movement is, on PayTrace's side (mpesa_reconciliation_items.record).
RECORDS = (
    "deposit",  # mpesa_deposits: an STK push to a user's wallet (in)
    "withdrawal",  # mpesa_withdrawals from a user's wallet (out, B2C)
    "merchant_payout",  # mpesa_withdrawals from a merchant's account (out, B2C)
    "order_refund",  # mpesa_withdrawals refunding an order payment to its payer (out, B2C)
    "order_payment",  # mpesa_order_payments: a pay order paid by Paybill or STK (in)
    "order_reversal",  # the reversal of an order payment PayTrace owed back (out)
    "bill_payment",  # bill_payments on the Daraja B2B rail (out)
)

# The PayTrace states in which the ledger moved the money with M-Pesa: a credited
# deposit, a paid-out withdrawal. Any other state (failed, released, open, in review)
# means the ledger did not, so an M-Pesa payment for it is a state mismatch.
MOVED = "completed"


def eat_day(moment: datetime) -> date:
    """The East Africa Time calendar day of an aware datetime."""
    if moment.tzinfo is None:
        raise ValueError("an aware datetime is needed")
    return moment.astimezone(EAT).date()


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of `day` in East Africa Time, as aware datetimes."""
    start = datetime(day.year, day.month, day.day, tzinfo=EAT)
    return start, start + timedelta(days=1)


@dataclass(frozen=True)
class StatementEntry:
    """One completed transaction on PayTrace's M-Pesa account statement."""

    receipt: str
    completed_at: datetime  # aware
    amount: int  # cents, positive
    direction: Direction
    counterparty: str  # the customer's MSISDN as M-Pesa shows it (may be masked)
    reference: str = ""  # STK AccountReference / B2C Occasion: PayTrace's reference
    conversation_id: str = ""  # STK CheckoutRequestID / B2C ConversationID


@dataclass(frozen=True)
class Movement:
    """One PayTrace movement through M-Pesa, as PayTrace recorded it."""

    direction: Direction
    reference: str  # PayTrace's reference (an order payment's: M-Pesa's TransID)
    status: str  # the record's own status
    amount: int  # cents (a payout's amount, its fee excluded: M-Pesa pays the amount)
    created_at: datetime  # aware
    receipt: str | None = None
    conversation_id: str | None = None  # CheckoutRequestID / B2C ConversationID
    record: str = "deposit"  # one of RECORDS
    # Whether the ledger moved it, for records whose status alone does not say (an
    # order payment is booked when paid and when owed back); None: status == MOVED.
    booked: bool | None = None

    @property
    def moved(self) -> bool:
        return self.status == MOVED if self.booked is None else self.booked


@dataclass(frozen=True)
class Difference:
    kind: str  # one of KINDS
    direction: Direction
    movement: Movement | None  # None: missing at PayTrace
    entry: StatementEntry | None  # None: missing at M-Pesa

    @property
    def delta(self) -> int:
        """M-Pesa's amount minus the amount PayTrace's ledger moved, in cents. A duplicate
        counts only its extra side: the entry it repeats, or the record it books again."""
        if self.kind == DUPLICATE and self.movement is not None:
            return -(self.movement.amount if self.movement.moved else 0)
        mpesa = self.entry.amount if self.entry else 0
        paytrace = self.movement.amount if self.movement and self.movement.moved else 0
        return mpesa - paytrace


@dataclass
class Totals:
    """Cents. `mpesa_*` sums the day's statement; `paytrace_*` what PayTrace's ledger
    moved that belongs to the day; each difference_* is M-Pesa minus PayTrace and
    equals the sum of the deltas of that direction's differences."""

    mpesa_in: int = 0
    mpesa_out: int = 0
    paytrace_in: int = 0
    paytrace_out: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    amounts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))

    @property
    def difference_in(self) -> int:
        return self.mpesa_in - self.paytrace_in

    @property
    def difference_out(self) -> int:
        return self.mpesa_out - self.paytrace_out

    def as_json(self) -> dict:
        return {
            "mpesa_in": self.mpesa_in,
            "mpesa_out": self.mpesa_out,
            "paytrace_in": self.paytrace_in,
            "paytrace_out": self.paytrace_out,
            "difference_in": self.difference_in,
            "difference_out": self.difference_out,
            "counts": dict(self.counts),
            "amounts": dict(self.amounts),
        }


@dataclass
class Comparison:
    day: date
    matched: int  # pairs of the day that agree
    differences: list[Difference]
    totals: Totals

    @property
    def sound(self) -> bool:
        return not self.differences


class _Index:
    """The entries of one direction, by each key, each entry taken at most once. An
    entry whose receipt an earlier one has is a repeat: never matched, reported."""

    def __init__(self, entries: list[StatementEntry]) -> None:
        self._by: list[dict[str, StatementEntry]] = [{}, {}, {}]
        self.repeats: set[int] = set()
        for entry in entries:
            if entry.receipt in self._by[0]:
                self.repeats.add(id(entry))
                continue
            for keys, value in zip(
                self._by, (entry.receipt, entry.conversation_id, entry.reference), strict=True
            ):
                if value:
                    keys.setdefault(value, entry)
        self.taken: set[int] = set()

    def take(self, movement: Movement) -> tuple[StatementEntry | None, bool]:
        """The entry the movement matches, and whether another movement took it already
        by M-Pesa's own keys (receipt, conversation id): a duplicate claim."""
        wanted = (movement.receipt, movement.conversation_id, movement.reference)
        claimed: StatementEntry | None = None
        for position, (keys, value) in enumerate(zip(self._by, wanted, strict=True)):
            entry = keys.get(value) if value else None
            if entry is None:
                continue
            if id(entry) not in self.taken:
                self.taken.add(id(entry))
                return entry, False
            if position < 2 and claimed is None:
                claimed = entry
        return claimed, claimed is not None


def compare(
    day: date, movements: Iterable[Movement], entries: Iterable[StatementEntry]
) -> Comparison:
    """Reconcile `day`: movements and entries may include the neighbouring days' (see
    the module's docstring); only what belongs to `day` is reported or totalled."""
    entries = sorted(entries, key=lambda e: (e.completed_at, e.receipt))
    indexes = {
        direction: _Index([e for e in entries if e.direction == direction])
        for direction in ("in", "out")
    }
    totals = Totals()
    differences: list[Difference] = []
    matched = 0
    for entry in entries:
        if eat_day(entry.completed_at) == day:
            if entry.direction == "in":
                totals.mpesa_in += entry.amount
            else:
                totals.mpesa_out += entry.amount
    for movement in sorted(movements, key=lambda m: (m.created_at, m.reference)):
        entry, again = indexes[movement.direction].take(movement)
        in_day = eat_day(entry.completed_at if entry else movement.created_at) == day
        if not in_day:
            continue  # another day's report has it
        if movement.moved:
            if movement.direction == "in":
                totals.paytrace_in += movement.amount
            else:
                totals.paytrace_out += movement.amount
        if again:
            differences.append(Difference(DUPLICATE, movement.direction, movement, entry))
            continue
        kind = _kind(movement, entry)
        if kind is None:
            matched += entry is not None
            continue
        differences.append(Difference(kind, movement.direction, movement, entry))
    for entry in entries:
        index = indexes[entry.direction]
        if eat_day(entry.completed_at) != day:
            continue
        if id(entry) in index.repeats:
            differences.append(Difference(DUPLICATE, entry.direction, None, entry))
        elif id(entry) not in index.taken:
            differences.append(Difference(MISSING_AT_PAYTRACE, entry.direction, None, entry))
    for difference in differences:
        totals.counts[difference.kind] += 1
        totals.amounts[difference.kind] += difference.delta
    return Comparison(day, matched, differences, totals)


def _kind(movement: Movement, entry: StatementEntry | None) -> str | None:
    """What is wrong with a movement of the day and its entry, or None."""
    if entry is None:
        return MISSING_AT_MPESA if movement.moved else None
    if not movement.moved:
        return STATE_MISMATCH
    if entry.amount != movement.amount:
        return AMOUNT_MISMATCH
    return None
