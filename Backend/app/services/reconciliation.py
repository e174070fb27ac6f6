"""Reconciliation: the ledger (the book of record) against Stellar, party by party.

A party is where a ledger account's money lives on-chain (migration 0006): each
active wallet is its user's Stellar account, and the fee accounts are the treasury.
Every movement between parties is mirrored on-chain by the settler, so for each party

    on-chain KES == ledger balance - (net effect on it of its movements not yet settled)

and `drift = actual - expected` is 0. Wallets are read page by page: one database
snapshot per page gives each party's balance and its unsettled movements together,
then its on-chain balance is read. Settlement runs meanwhile, so a movement can settle
between the two reads; any party that seems to drift is read once more, both sides
afresh, before it is reported. Wallets not yet active on Stellar hold their money on
the ledger only: counted and listed, never a drift.

Each run is stored in `reconciliation_reports`; amounts are integer cents.

Long (over 300 lines) because the comparison, the second read of a seeming drift and
the stored report belong to one pass over the parties; the arithmetic itself is
small.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from app.db.repositories.reconciliation import (
    TREASURY_PARTY,
    InactiveWallet,
    PartyBacklog,
    StoredReport,
    UnsettledEffect,
)
from app.db.unit_of_work import UnitOfWork
from app.integrations.stellar import StellarNetwork, cents_to_amount, to_stroops
from app.services.custody import SystemAccounts

log = logging.getLogger("paytrace.reconciliation")

REPORT_VERSION = 1
BATCH_SIZE = 500  # wallets read per database snapshot
CONCURRENCY = 8  # on-chain balances asked for at once
LISTED = 1000  # parties (and wallets awaiting activation) a report lists at most
LISTED_MOVEMENTS = 50  # unsettled movements listed per party (all are counted and summed)
RECHECK_DELAY_S = 1.0  # lets envelopes in flight land before a drift is read again
STROOPS_PER_CENT = to_stroops(cents_to_amount(1))

# Why an on-chain balance could not be read as whole cents (each is a drift).
NO_ACCOUNT = "no_account"
NO_TRUSTLINE = "no_trustline"
FRACTION_OF_A_CENT = "fraction_of_a_cent"


@dataclass(frozen=True)
class UnsettledMovement:
    transaction_id: int
    reference: str
    kind: str  # transfer | cash_in | reversal
    status: str  # pending | submitted | failed
    effect: int  # cents: what it does to the party's ledger balance


@dataclass(frozen=True)
class PartyLine:
    """One party's two sides of the books."""

    party: int  # the wallet's ledger account id, or 0 for the treasury
    kind: str  # wallet | treasury
    address: str
    ledger_balance: int
    unsettled_effect: int  # net effect of every movement not yet settled on-chain
    unsettled_movements: int
    expected_on_chain: int  # ledger_balance - unsettled_effect
    actual_on_chain: int | None  # None: no account or no KES trustline
    drift: int  # actual (0 when None) - expected
    problem: str | None  # no_account | no_trustline | fraction_of_a_cent
    unsettled: tuple[UnsettledMovement, ...] = ()  # the oldest LISTED_MOVEMENTS of them

    @property
    def drifting(self) -> bool:
        return self.drift != 0 or self.problem is not None


@dataclass(frozen=True)
class AwaitingActivation:
    party: int
    address: str
    activation_status: str  # pending | failed
    ledger_balance: int


@dataclass(frozen=True)
class Totals:
    """Informational, across snapshots: every party's on-chain KES against the issuer's
    side of the ledger. With nothing moving, issuer_side_ledger - on_chain_held ==
    unsettled_effect + awaiting_activation_balance - (the sum of the drifts)."""

    on_chain_held: int  # KES on the checked parties' accounts
    issuer_side_ledger: int  # -(float + suspense + clearing): every party's ledger money
    difference: int  # issuer_side_ledger - on_chain_held
    unsettled_effect: int  # summed over the checked parties
    awaiting_activation_balance: int


@dataclass
class Report:
    started_at: datetime
    finished_at: datetime
    accounts: int  # parties checked: active wallets and the treasury
    drift_count: int
    treasury: PartyLine
    drifting: list[PartyLine]  # at most LISTED
    explained: list[PartyLine]  # agree once unsettled movements are counted; at most LISTED
    explained_count: int
    inactive_wallets: int
    awaiting_activation: list[AwaitingActivation]  # with a ledger balance; at most LISTED
    awaiting_activation_count: int
    totals: Totals
    rechecked: int  # parties read twice because the first read showed a drift
    id: int | None = field(default=None)  # once stored

    @property
    def sound(self) -> bool:
        return self.drift_count == 0

    def body(self) -> dict:
        """What is stored as the report's JSON (the columns hold the rest)."""
        return {
            "version": REPORT_VERSION,
            "treasury": _line_json(self.treasury),
            "drifting": [_line_json(line) for line in self.drifting],
            "explained": [_line_json(line) for line in self.explained],
            "explained_count": self.explained_count,
            "awaiting_activation": {
                "wallets": self.inactive_wallets,
                "with_balance": self.awaiting_activation_count,
                "balance": self.totals.awaiting_activation_balance,
                "listed": [asdict(wallet) for wallet in self.awaiting_activation],
            },
            "totals": asdict(self.totals),
            "rechecked": self.rechecked,
        }


def _line_json(line: PartyLine) -> dict:
    body = asdict(line)
    body["unsettled"] = [asdict(movement) for movement in line.unsettled]
    return body


# ---- one party's ledger side ---------------------------------------------------------


@dataclass(frozen=True)
class _LedgerSide:
    party: int
    kind: str
    address: str
    balance: int
    backlog: PartyBacklog | None


def _sides(uow: UnitOfWork, wallets: Iterable, treasury: str | None) -> list[_LedgerSide]:
    """Each party's balance and unsettled movements, inside the uow's snapshot."""
    sides = [_LedgerSide(w.party, "wallet", w.address, w.balance, None) for w in wallets]
    if treasury is not None:
        balance = uow.reconciliation.treasury_balance()
        sides.append(_LedgerSide(TREASURY_PARTY, "treasury", treasury, balance, None))
    if not sides:
        return sides
    backlogs = uow.reconciliation.unsettled([side.party for side in sides], LISTED_MOVEMENTS)
    return [
        _LedgerSide(s.party, s.kind, s.address, s.balance, backlogs.get(s.party)) for s in sides
    ]


def _movement(effect: UnsettledEffect) -> UnsettledMovement:
    return UnsettledMovement(
        effect.transaction_id, effect.reference, effect.kind, effect.status, effect.effect
    )


class _Chain:
    """On-chain KES balances in cents, read a batch at a time, several at once."""

    def __init__(self, network: StellarNetwork, system: SystemAccounts, pool: ThreadPoolExecutor):
        self._network = network
        self._asset = f"{system.asset.code}:{system.asset.issuer}"
        self._pool = pool

    def lines(self, sides: list[_LedgerSide]) -> list[PartyLine]:
        """Raises StellarUnavailable when the network cannot be asked."""
        read = self._pool.map(self._balance, [side.address for side in sides])
        return [_line(side, *balance) for side, balance in zip(sides, read, strict=True)]

    def _balance(self, address: str) -> tuple[int | None, str | None]:
        account = self._network.account(address)
        if account is None:
            return None, NO_ACCOUNT
        stroops = account.balances.get(self._asset)
        if stroops is None:
            return None, NO_TRUSTLINE
        cents, rest = divmod(stroops, STROOPS_PER_CENT)
        return cents, FRACTION_OF_A_CENT if rest else None


def _line(side: _LedgerSide, actual: int | None, problem: str | None) -> PartyLine:
    backlog = side.backlog
    effect = backlog.total if backlog else 0
    expected = side.balance - effect
    return PartyLine(
        party=side.party,
        kind=side.kind,
        address=side.address,
        ledger_balance=side.balance,
        unsettled_effect=effect,
        unsettled_movements=backlog.movements if backlog else 0,
        expected_on_chain=expected,
        actual_on_chain=actual,
        drift=(actual or 0) - expected,
        problem=problem,
        unsettled=tuple(_movement(e) for e in backlog.listed) if backlog else (),
    )


# ---- the run -----------------------------------------------------------------------------


class _Tally:
    """What a run keeps while it pages: counts, sums, and the lines worth listing."""

    def __init__(self) -> None:
        self.accounts = 0
        self.on_chain_held = 0
        self.unsettled_effect = 0
        self.explained: list[PartyLine] = []
        self.explained_count = 0
        self.suspects: dict[int, PartyLine] = {}  # party -> its first, drifting, line

    def add(self, line: PartyLine) -> None:
        self.accounts += 1
        self.on_chain_held += line.actual_on_chain or 0
        self.unsettled_effect += line.unsettled_effect
        if line.drifting:
            self.suspects[line.party] = line
        else:
            self._agreed(line)

    def replace(self, first: PartyLine, again: PartyLine) -> None:
        """A party read again: its second line counts instead of its first."""
        self.on_chain_held += (again.actual_on_chain or 0) - (first.actual_on_chain or 0)
        self.unsettled_effect += again.unsettled_effect - first.unsettled_effect
        if not again.drifting:
            self._agreed(again)

    def _agreed(self, line: PartyLine) -> None:
        if line.unsettled_movements:
            self.explained_count += 1
            if len(self.explained) < LISTED:
                self.explained.append(line)


def reconcile(
    uow: UnitOfWork,
    network: StellarNetwork,
    system: SystemAccounts,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    *,
    batch_size: int = BATCH_SIZE,
    concurrency: int = CONCURRENCY,
    recheck_delay_s: float = RECHECK_DELAY_S,
    sleep: Callable[[float], None] = time.sleep,
) -> Report:
    """Compare every active wallet and the treasury with their Stellar accounts, store the
    report and return it (with its id). Each page of wallets is read in its own
    transaction of uow (a snapshot), and the report is stored in a last one.

    Raises StellarUnavailable when Horizon cannot be asked and ServiceUnavailable when
    PostgreSQL cannot: a run that cannot see both sides stores nothing.
    """
    if batch_size < 1 or concurrency < 1:
        raise ValueError("batch_size and concurrency must be positive")
    started = clock()
    treasury_address = system.treasury.public_key
    tally = _Tally()
    with ThreadPoolExecutor(concurrency, thread_name_prefix="reconcile") as pool:
        chain = _Chain(network, system, pool)
        after = 0
        while True:
            with uow:
                uow.reconciliation.snapshot()
                wallets = uow.reconciliation.active_wallets(after, batch_size)
                sides = _sides(uow, wallets, None)
            for line in chain.lines(sides):
                tally.add(line)
            if len(wallets) < batch_size:
                break
            after = wallets[-1].wallet_id
        with uow:
            uow.reconciliation.snapshot()
            (treasury,) = chain.lines(_sides(uow, [], treasury_address))
        tally.add(treasury)

        # Settlement may have landed between a party's two reads: read both sides again.
        drifting: list[PartyLine] = []
        first_reads = dict(tally.suspects)
        if first_reads:
            sleep(recheck_delay_s)
            for again in _read_again(uow, chain, list(first_reads), treasury_address):
                first = first_reads.pop(again.party)
                tally.replace(first, again)
                if again.party == TREASURY_PARTY:
                    treasury = again
                if again.drifting:
                    drifting.append(again)
            # A wallet gone from the active ones meanwhile cannot happen (activation only
            # moves forward); were it to, its first reading stands.
            for first in first_reads.values():
                drifting.append(first)

    with uow:
        uow.reconciliation.snapshot()
        issuer_side = uow.reconciliation.issuer_side_balance()
        inactive = uow.reconciliation.inactive_summary()
        awaiting = uow.reconciliation.inactive_with_balance(LISTED)

    drifting.sort(key=lambda line: (line.kind != "treasury", line.party))
    report = Report(
        started_at=started,
        finished_at=clock(),
        accounts=tally.accounts,
        drift_count=len(drifting),
        treasury=treasury,
        drifting=drifting[:LISTED],
        explained=tally.explained,
        explained_count=tally.explained_count,
        inactive_wallets=inactive.wallets,
        awaiting_activation=[_awaiting(wallet) for wallet in awaiting],
        awaiting_activation_count=inactive.with_balance,
        totals=Totals(
            on_chain_held=tally.on_chain_held,
            issuer_side_ledger=-issuer_side,
            difference=-issuer_side - tally.on_chain_held,
            unsettled_effect=tally.unsettled_effect,
            awaiting_activation_balance=inactive.balance,
        ),
        rechecked=len(tally.suspects),
    )
    with uow:
        report.id = uow.reconciliation.add_report(
            started_at=report.started_at,
            finished_at=report.finished_at,
            accounts=report.accounts,
            drifts=report.drift_count,
            report=report.body(),
        )
        uow.commit()
    _log(report)
    return report


def _read_again(
    uow: UnitOfWork, chain: _Chain, parties: list[int], treasury_address: str
) -> list[PartyLine]:
    wallet_parties = [party for party in parties if party != TREASURY_PARTY]
    lines: list[PartyLine] = []
    for start in range(0, len(wallet_parties), BATCH_SIZE):
        with uow:
            uow.reconciliation.snapshot()
            wallets = uow.reconciliation.wallets_by_party(
                wallet_parties[start : start + BATCH_SIZE]
            )
            sides = _sides(uow, wallets, None)
        lines.extend(chain.lines(sides))
    if TREASURY_PARTY in parties:
        with uow:
            uow.reconciliation.snapshot()
            sides = _sides(uow, [], treasury_address)
        lines.extend(chain.lines(sides))
    return lines


def _awaiting(wallet: InactiveWallet) -> AwaitingActivation:
    return AwaitingActivation(
        wallet.party, wallet.address, wallet.activation_status, wallet.balance
    )


def _log(report: Report) -> None:
    fields = {
        "report_id": report.id,
        "accounts": report.accounts,
        "drifts": report.drift_count,
        "explained": report.explained_count,
        "awaiting_activation": report.awaiting_activation_count,
    }
    if report.sound:
        log.info("reconciliation: the ledger and Stellar agree", extra=fields)
        return
    log.error("reconciliation: drift between the ledger and Stellar", extra=fields)
    for line in report.drifting[:20]:
        log.error(
            "reconciliation drift",
            extra={
                "party": line.party,
                "address": line.address,
                "expected": line.expected_on_chain,
                "actual": line.actual_on_chain,
                "drift": line.drift,
                "problem": line.problem,
            },
        )


def latest(uow: UnitOfWork) -> StoredReport | None:
    """The most recent stored report, or None before the first run. Raises
    ServiceUnavailable."""
    with uow:
        return uow.reconciliation.latest_report()


def last_finished_at(uow: UnitOfWork) -> datetime | None:
    with uow:
        return uow.reconciliation.last_finished_at()
