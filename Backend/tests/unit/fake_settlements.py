"""A hand-written unit of work over the settlement rows, for the settlement services'
unit tests: only what they call, kept in dictionaries, with what was committed."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.db.repositories.settlements import OpenSettlement


@dataclass
class FakeSettlements:
    pending_rows: list[OpenSettlement] = field(default_factory=list)
    blocked: set[int] = field(default_factory=set)
    waiting_wallets: list[tuple[str, str]] = field(default_factory=list)  # address, token
    secrets: dict[str, str] = field(default_factory=dict)  # address -> token
    carried: dict[int, list[OpenSettlement]] = field(default_factory=dict)  # envelope id
    activating_wallets: dict[int, list[str]] = field(default_factory=dict)  # envelope id
    unsettled: int = 0
    envelopes: list[dict] = field(default_factory=list)
    writes: list[tuple] = field(default_factory=list)  # (what, ...) in call order

    def blocking_parties(self) -> set[int]:
        return set(self.blocked)

    def pending(self, limit: int) -> list[OpenSettlement]:
        return self.pending_rows[:limit]

    def pending_activations(self, limit: int) -> list[tuple[str, str]]:
        return self.waiting_wallets[:limit]

    def signed_envelopes(self) -> list:
        return []

    def unsettled_count(self) -> int:
        return self.unsettled

    def wallet_secrets(self, addresses: list[str]) -> dict[str, str]:
        return {a: self.secrets[a] for a in addresses if a in self.secrets}

    def of_envelope(self, envelope_id: int) -> list[OpenSettlement]:
        return self.carried.get(envelope_id, [])

    def activating(self, envelope_id: int) -> list[str]:
        return self.activating_wallets.get(envelope_id, [])

    def add_envelope(self, **envelope: object) -> int:
        self.envelopes.append(envelope)
        self.writes.append(("envelope", len(self.envelopes), envelope["purpose"]))
        return len(self.envelopes)

    def mark_settled_without_payment(self, transaction_ids: list[int]) -> None:
        self.writes.append(("settled_without_payment", transaction_ids))

    def mark_submitted(self, transaction_ids: list[int], envelope_id: int) -> None:
        self.writes.append(("submitted", transaction_ids, envelope_id))

    def mark_activating(self, addresses: list[str], envelope_id: int) -> None:
        self.writes.append(("activating", addresses, envelope_id))

    def mark_settled(self, envelope_id: int, *, tx_hash: str, ledger: int) -> int:
        self.writes.append(("settled", envelope_id, tx_hash, ledger))
        return len(self.carried.get(envelope_id, []))

    def release(self, envelope_id: int, status: str, **extra: object) -> None:
        self.writes.append(("release", envelope_id, status, extra))

    def finish_activations(self, envelope_id: int, status: str, **extra: object) -> None:
        self.writes.append(("finish_activations", envelope_id, status, extra))


class FakeSettlementsUnitOfWork:
    """`with uow:` as the real one: what was written counts only once committed."""

    def __init__(self, settlements: FakeSettlements | None = None) -> None:
        self.settlements = settlements or FakeSettlements()
        self.entered = 0
        self.committed: list[tuple] = []
        self._open_writes = 0

    def __enter__(self) -> FakeSettlementsUnitOfWork:
        self.entered += 1
        self._open_writes = len(self.settlements.writes)
        return self

    def __exit__(self, *exc: object) -> None:
        # Roll back what was written and not committed.
        del self.settlements.writes[self._open_writes :]

    def commit(self) -> None:
        self.committed.extend(self.settlements.writes[self._open_writes :])
        self._open_writes = len(self.settlements.writes)
