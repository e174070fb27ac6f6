"""Which movements go on-chain next, in which Stellar transactions, as which payments.

Pure functions over settlement rows (no I/O), so the rules that keep the two books
in step are tested on their own:

* A movement becomes payments between its parties: each party's legs are netted,
  and those that lose money pay those that gain, in leg order. The issuer stands
  for the float, suspense and clearing accounts: paying it burns KES, being paid
  by it mints.
* A movement may go ahead only when no earlier movement touching one of its payers
  is unsettled (submitted, parked, deferred or waiting for an activation): each
  payer's on-chain balance then follows the journal's order, so it never pays
  what it does not yet hold, and one user's payments keep their order.
* Movements that depend on each other go into the same Stellar transaction, in
  journal order (its operations apply one after the other, all or none); movements
  that do not are packed together up to the network's limits, so many users settle
  in one ledger without waiting in one line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.db.repositories.settlements import OpenSettlement

# Stellar's limits: 100 operations and 20 signatures per transaction; one signature
# is the channel account's.
MAX_OPERATIONS = 100
MAX_PAYER_SIGNERS = 19

ISSUER = None  # the issuer's side of a payment


@dataclass(frozen=True, slots=True)
class Side:
    party: int | None  # wallet ledger account id, 0 for the treasury, None for the issuer
    address: str | None  # the wallet's address; None for the treasury and the issuer


@dataclass(frozen=True, slots=True)
class Payment:
    payer: Side
    payee: Side
    cents: int


def payments_for(settlement: OpenSettlement) -> list[Payment]:
    """The KES payments that mirror one movement on-chain."""
    nets: dict[int | None, int] = {}
    sides: dict[int | None, Side] = {}
    for leg in settlement.legs:
        nets[leg.party] = nets.get(leg.party, 0) + leg.amount
        sides.setdefault(leg.party, Side(leg.party, leg.address))
    debtors = [[party, -net] for party, net in nets.items() if net < 0]
    creditors = [[party, net] for party, net in nets.items() if net > 0]
    payments: list[Payment] = []
    d = c = 0
    while d < len(debtors) and c < len(creditors):
        cents = min(debtors[d][1], creditors[c][1])
        payments.append(Payment(sides[debtors[d][0]], sides[creditors[c][0]], cents))
        debtors[d][1] -= cents
        creditors[c][1] -= cents
        d += debtors[d][1] == 0
        c += creditors[c][1] == 0
    # Issuer to issuer (e.g. float to suspense) is no payment at all.
    return [p for p in payments if not (p.payer.party is ISSUER and p.payee.party is ISSUER)]


@dataclass
class Batch:
    """Movements that will share one Stellar transaction, in journal order."""

    settlements: list[OpenSettlement] = field(default_factory=list)
    payments: list[list[Payment]] = field(default_factory=list)  # per settlement
    signers: set[int | None] = field(default_factory=set)  # payer parties (None: issuer)
    parties: set[int] = field(default_factory=set)
    operations: int = 0

    @property
    def full(self) -> bool:
        """No room for another typical movement (one payer, two payments)."""
        return len(self.signers) >= MAX_PAYER_SIGNERS or self.operations >= MAX_OPERATIONS - 2

    def fits(self, payments: list[Payment]) -> bool:
        signers = self.signers | {p.payer.party for p in payments}
        return (
            self.operations + len(payments) <= MAX_OPERATIONS and len(signers) <= MAX_PAYER_SIGNERS
        )

    def add(self, settlement: OpenSettlement, payments: list[Payment]) -> None:
        self.settlements.append(settlement)
        self.payments.append(payments)
        self.signers |= {p.payer.party for p in payments}
        self.parties |= settlement.parties
        self.operations += len(payments)


def plan(
    pending: list[OpenSettlement], blocked: set[int], *, max_batches: int
) -> tuple[list[Batch], list[OpenSettlement]]:
    """Batches to submit now, and movements with no payment at all (settled at once).

    `pending` is in journal order; `blocked` holds the parties of movements already
    submitted or parked. Everything not planned stays pending for a later round.
    """
    blocked = set(blocked)
    batches: list[Batch] = []
    empty: list[OpenSettlement] = []
    for settlement in pending:
        if not settlement.ready or settlement.payers & blocked:
            blocked |= settlement.parties  # later movements spending from them wait too
            continue
        payments = payments_for(settlement)
        if not payments:
            empty.append(settlement)
            continue
        # Earlier movements in this round that touch one of its payers must apply first:
        # it joins their batch (one transaction keeps the order), or waits.
        depends_on = [b for b in batches if settlement.payers & b.parties]
        if len(depends_on) > 1:
            blocked |= settlement.parties
            continue
        if depends_on:
            target = depends_on[0]
        else:
            target = next((b for b in reversed(batches) if b.fits(payments)), None)
            if target is None:
                if len(batches) == max_batches:
                    break  # no channel free for more: the rest waits, in order
                target = Batch()
                batches.append(target)
        if not target.fits(payments):
            blocked |= settlement.parties
            continue
        target.add(settlement, payments)
    return batches, empty
