"""Talking to Stellar (Horizon) through the official stellar-sdk, behind `StellarNetwork`.

Every submission answer is sorted into what the worker acts on, because a signed
envelope must be applied exactly once:

* *applied* - in a ledger (a resubmission of an applied envelope answers this too);
* *retry* - it may not have reached the network, or the network had a bad moment
  (connection errors, timeouts, 5xx, 504): send the very same bytes again later;
* *bad sequence* - `tx_bad_seq`: this envelope can never apply as built; reload the
  source's sequence (after checking its hash is not in fact on the ledger);
* *expired* - `tx_too_late`: past its time bound, it can never apply;
* *failed* - anything else the network refused (`op_underfunded`, `op_no_trust`,
  `tx_bad_auth`...): it will not succeed by retrying; an operator looks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from stellar_sdk import FeeBumpTransactionEnvelope, Server, Transaction, TransactionBuilder
from stellar_sdk.client.requests_client import RequestsClient
from stellar_sdk.exceptions import (
    BadRequestError,
    BadResponseError,
    BaseHorizonError,
    ConnectionError,
    NotFoundError,
)

from app.config import Settings

STROOPS_PER_UNIT = 10_000_000


class Submission(StrEnum):
    APPLIED = "applied"
    RETRY = "retry"
    BAD_SEQUENCE = "bad_sequence"
    EXPIRED = "expired"
    FAILED = "failed"


@dataclass(frozen=True)
class SubmitResult:
    outcome: Submission
    ledger: int | None = None
    # Horizon's extras.result_codes, e.g. {"transaction": "tx_failed", "operations": [...]}
    result_codes: dict = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class AccountState:
    address: str
    sequence: int
    # Asset balances in stroops: "native" and "<code>:<issuer>".
    balances: dict[str, int]


@dataclass(frozen=True)
class LedgerClose:
    """A closed ledger: its sequence and the network's close time (not this machine's)."""

    sequence: int
    closed_at: datetime


class StellarNetwork(Protocol):
    def submit(self, envelope_xdr: str) -> SubmitResult:
        """Submit a signed envelope once; every answer becomes a SubmitResult."""
        ...

    def transaction_ledger(self, tx_hash: str) -> int | None:
        """The ledger that applied tx_hash successfully, or None if it is not on the ledger;
        raises StellarUnavailable when the network cannot tell."""
        ...

    def account(self, address: str) -> AccountState | None:
        """The account's sequence and balances, or None if it does not exist; raises
        StellarUnavailable."""
        ...

    def latest_ledger(self) -> LedgerClose:
        """The last closed ledger, with its close time; raises StellarUnavailable."""
        ...


class StellarUnavailable(Exception):
    """Horizon could not be asked (connection, timeout, 5xx): try again later."""


def to_stroops(amount: str) -> int:
    """'12.3456789' -> 123456789, exactly (no floats)."""
    whole, _, fraction = amount.partition(".")
    if len(fraction) > 7:
        raise ValueError(f"more than 7 decimals: {amount!r}")
    sign = -1 if whole.startswith("-") else 1
    return sign * (abs(int(whole or "0")) * STROOPS_PER_UNIT + int(fraction.ljust(7, "0")))


def stroops_to_amount(stroops: int) -> str:
    """123456789 -> '12.3456789', exactly (no floats)."""
    sign = "-" if stroops < 0 else ""
    whole, fraction = divmod(abs(stroops), STROOPS_PER_UNIT)
    return f"{sign}{whole}.{fraction:07d}"


def cents_to_amount(cents: int) -> str:
    """KES cents to a Stellar amount string: 12345 -> '123.45'."""
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def _codes(exc: BaseHorizonError) -> dict:
    return dict((exc.extras or {}).get("result_codes") or {})


def classify_refusal(codes: dict) -> Submission:
    """What a 400 transaction_failed answer means for the worker."""
    transaction = codes.get("transaction")
    if transaction == "tx_fee_bump_inner_failed":
        transaction = codes.get("inner_transaction", transaction)
    if transaction == "tx_bad_seq":
        return Submission.BAD_SEQUENCE
    if transaction == "tx_too_late":
        return Submission.EXPIRED
    return Submission.FAILED


class Horizon:
    """StellarNetwork over Horizon's REST API with the official SDK."""

    def __init__(self, horizon_url: str, *, timeout_s: float = 30.0) -> None:
        # No client-side retries: a retried POST is the worker's decision, with the
        # same bytes; the SDK's own retry would hide what happened.
        client = RequestsClient(
            num_retries=0, request_timeout=int(timeout_s), post_timeout=timeout_s
        )
        self.server = Server(horizon_url, client=client)

    @classmethod
    def from_settings(cls, settings: Settings) -> Horizon:
        if not settings.stellar_horizon_url:
            raise ValueError("STELLAR_HORIZON_URL is not set")
        return cls(settings.stellar_horizon_url, timeout_s=settings.stellar_timeout_s)

    def submit(self, envelope_xdr: str) -> SubmitResult:
        try:
            answer = self.server.submit_transaction(envelope_xdr, skip_memo_required_check=True)
        except ConnectionError as exc:
            return SubmitResult(Submission.RETRY, error=f"connection: {exc}")
        except BadResponseError as exc:  # 5xx, including 504 "timeout": it may yet apply
            return SubmitResult(Submission.RETRY, error=f"horizon {exc.status}")
        except BadRequestError as exc:
            if exc.status == 429:
                return SubmitResult(Submission.RETRY, error="rate limited by horizon")
            codes = _codes(exc)
            return SubmitResult(classify_refusal(codes), result_codes=codes, error=exc.title)
        except BaseHorizonError as exc:
            return SubmitResult(Submission.FAILED, error=f"horizon {exc.status}: {exc.title}")
        if not answer.get("successful", True):
            return SubmitResult(Submission.FAILED, error="not successful")
        return SubmitResult(Submission.APPLIED, ledger=int(answer["ledger"]))

    def transaction_ledger(self, tx_hash: str) -> int | None:
        try:
            found = self.server.transactions().transaction(tx_hash).call()
        except NotFoundError:
            return None
        except (ConnectionError, BadResponseError) as exc:
            raise StellarUnavailable(str(exc)) from exc
        return int(found["ledger"]) if found.get("successful") else None

    def latest_ledger(self) -> LedgerClose:
        try:
            page = self.server.ledgers().order(desc=True).limit(1).call()
        except (ConnectionError, BadResponseError, NotFoundError) as exc:
            raise StellarUnavailable(str(exc)) from exc
        records = page.get("_embedded", {}).get("records") or []
        if not records:
            raise StellarUnavailable("horizon listed no closed ledger")
        closed_at = datetime.fromisoformat(records[0]["closed_at"].replace("Z", "+00:00"))
        return LedgerClose(int(records[0]["sequence"]), closed_at)

    def account(self, address: str) -> AccountState | None:
        try:
            found = self.server.accounts().account_id(address).call()
        except NotFoundError:
            return None
        except (ConnectionError, BadResponseError) as exc:
            raise StellarUnavailable(str(exc)) from exc
        balances = {}
        for line in found.get("balances", []):
            if line["asset_type"] == "native":
                key = "native"
            else:
                key = f"{line['asset_code']}:{line['asset_issuer']}"
            balances[key] = to_stroops(line["balance"])
        return AccountState(address=address, sequence=int(found["sequence"]), balances=balances)


_FAILED = "Transaction Failed"  # Horizon's title for a refused transaction
# The refusals the fake models, and Horizon's result code for each.
_REFUSAL_CODES = {Submission.EXPIRED: "tx_too_late", Submission.BAD_SEQUENCE: "tx_bad_seq"}


@dataclass
class FakeStellarNetwork:
    """A hand-written StellarNetwork for tests of PayTrace's own logic (the local
    development network is what proves the real protocol).

    Applies every envelope it is given unless answers are scripted: `script(...)`
    queues SubmitResults (or StellarUnavailable) for the next submissions. An envelope
    applied once answers APPLIED with its first ledger again, as Horizon does. As the
    network does, it refuses an envelope past its time bound (`tx_too_late`, by the
    network's clock) or whose sequence is not the next of a source in `accounts`
    (`tx_bad_seq`), and applying one moves its source's sequence. Balances do not
    move. tests/integration/test_stellar_port_contract.py holds it to Horizon.
    """

    accounts: dict[str, AccountState] = field(default_factory=dict)
    submitted: list[str] = field(default_factory=list)
    applied: dict[str, int] = field(default_factory=dict)  # envelope XDR -> ledger
    hashes: dict[str, int] = field(default_factory=dict)  # tx hash -> ledger
    _answers: list[SubmitResult | Exception] = field(default_factory=list)
    ledger: int = 100
    # The network's own clock: the close time of its last ledger (a test moves it).
    close_clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    passphrase: str = "PayTrace Local Network ; development only"  # noqa: S105

    def script(self, *answers: SubmitResult | Exception) -> None:
        self._answers.extend(answers)

    def submit(self, envelope_xdr: str) -> SubmitResult:
        self.submitted.append(envelope_xdr)
        if envelope_xdr in self.applied:
            return SubmitResult(Submission.APPLIED, ledger=self.applied[envelope_xdr])
        if self._answers:
            answer = self._answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            if answer.outcome is Submission.APPLIED:
                self._apply(envelope_xdr)
            return answer
        refusal = self._refusal(envelope_xdr)
        if refusal is not None:
            codes = {"transaction": _REFUSAL_CODES[refusal]}
            return SubmitResult(refusal, result_codes=codes, error=_FAILED)
        self._apply(envelope_xdr)
        return SubmitResult(Submission.APPLIED, ledger=self.ledger)

    def apply_silently(self, envelope_xdr: str) -> None:
        """The network applied it, but its answer never reached PayTrace."""
        self._apply(envelope_xdr)

    def _transaction(self, envelope_xdr: str) -> Transaction:
        """The envelope's transaction (a fee bump's inner one: its source and bounds)."""
        envelope = TransactionBuilder.from_xdr(envelope_xdr, self.passphrase)
        if isinstance(envelope, FeeBumpTransactionEnvelope):
            envelope = envelope.transaction.inner_transaction_envelope
        return envelope.transaction

    def _refusal(self, envelope_xdr: str) -> Submission | None:
        transaction = self._transaction(envelope_xdr)
        bounds = transaction.preconditions.time_bounds if transaction.preconditions else None
        if bounds is not None and 0 < bounds.max_time < self.close_clock().timestamp():
            return Submission.EXPIRED
        source = self.accounts.get(transaction.source.account_id)
        if source is not None and transaction.sequence != source.sequence + 1:
            return Submission.BAD_SEQUENCE
        return None

    def _apply(self, envelope_xdr: str) -> None:
        self.ledger += 1
        self.applied[envelope_xdr] = self.ledger
        envelope = TransactionBuilder.from_xdr(envelope_xdr, self.passphrase)
        self.hashes[envelope.hash_hex()] = self.ledger
        transaction = self._transaction(envelope_xdr)
        address = transaction.source.account_id
        if address in self.accounts:
            self.accounts[address] = replace(self.accounts[address], sequence=transaction.sequence)

    def transaction_ledger(self, tx_hash: str) -> int | None:
        return self.hashes.get(tx_hash)

    def account(self, address: str) -> AccountState | None:
        return self.accounts.get(address)

    def latest_ledger(self) -> LedgerClose:
        return LedgerClose(self.ledger, self.close_clock())
