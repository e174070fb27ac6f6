"""When a signed envelope can never apply: decided by the network, never by this clock.

An envelope PayTrace signed may be applied by the network for as long as its time bound
lies ahead of the network's ledgers and its source's sequence number is unused. Declaring
it dead early and signing a new one for the same movements would pay twice if the old
one then lands. So this machine's clock (which can run ahead: NTP steps, a VM resumed)
decides nothing; an envelope is dead only when the network itself shows it:

* the last closed ledger closed after the envelope's max_time (every later ledger
  closes later still, and Stellar refuses an envelope whose max_time is before the
  close time of the ledger it would go into), or its source account's sequence has
  reached the envelope's (a sequence number is used once);
* AND its hash is not on the ledger as applied.

The order of the reads matters: the ledger (or the account) first, the hash after. An
envelope applied in a ledger up to the one just read is then already visible by its
hash; read the other way round, one applied in between would be missed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from app.db.repositories.stellar import SignedEnvelope
from app.integrations.stellar import StellarNetwork


class Fate(StrEnum):
    APPLIED = "applied"  # on the ledger: record it settled
    LIVE = "live"  # may still apply: send the same bytes again, never a new envelope
    DEAD = "dead"  # can never apply: what it carried may be signed anew or parked


@dataclass(frozen=True)
class Verdict:
    fate: Fate
    ledger: int | None = None  # the ledger that applied it (APPLIED)
    why: str = ""


@dataclass(frozen=True)
class EnvelopeBounds:
    """What decides an envelope's life: its hash, source, sequence and time bound."""

    tx_hash: str
    source: str
    sequence: int
    max_time: datetime

    @classmethod
    def of(cls, envelope: SignedEnvelope) -> EnvelopeBounds:
        return cls(envelope.tx_hash, envelope.source, envelope.sequence, envelope.max_time)


def decide(
    bounds: EnvelopeBounds,
    *,
    last_closed_at: datetime,
    source_sequence: int | None,
    applied_ledger: int | None,
) -> Verdict:
    """The envelope's fate from what the network showed, read in this order: the last
    closed ledger's close time, the source account's sequence (None: no such account),
    then the ledger that applied its hash (None: not applied). Pure."""
    if applied_ledger is not None:
        return Verdict(Fate.APPLIED, ledger=applied_ledger)
    if last_closed_at > bounds.max_time:
        return Verdict(Fate.DEAD, why="a ledger closed after its time bound")
    if source_sequence is not None and source_sequence >= bounds.sequence:
        return Verdict(Fate.DEAD, why="its source's sequence number is used")
    return Verdict(Fate.LIVE, why="the network could still apply it")


def fate(network: StellarNetwork, bounds: EnvelopeBounds) -> Verdict:
    """Ask the network whether the envelope applied, can still apply, or never will.
    Raises StellarUnavailable (then nothing may be decided: ask again later)."""
    last = network.latest_ledger()
    source_sequence = None
    if last.closed_at <= bounds.max_time:  # the time bound decides nothing yet
        source = network.account(bounds.source)
        source_sequence = source.sequence if source is not None else None
    applied = network.transaction_ledger(bounds.tx_hash)  # after the reads above: see why
    return decide(
        bounds,
        last_closed_at=last.closed_at,
        source_sequence=source_sequence,
        applied_ledger=applied,
    )
