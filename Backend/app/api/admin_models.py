"""Request and response bodies of the admin API. Amounts are integer cents, always.

Long (over 300 lines) because it is the declarations of every admin body, with
their validators and OpenAPI examples; no logic lives here.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, StrictStr

from app.api import admin_examples as examples
from app.domain.records.settlement import SettlementState, StoredReport
from app.services.adjustments import MAX_CASH_IN, REFERENCE_MAX
from app.services.admin_views import TransactionView, UserOverview
from app.services.ledger import Movement

REASON_MAX = 100  # journal_transactions.note holds 100 characters


def _printable(value: str) -> str:
    # NUL and lone surrogates would only fail later, inside the database driver.
    if not value.isprintable():
        raise ValueError("only printable characters are allowed")
    return value


PrintableStr = Annotated[StrictStr, AfterValidator(_printable)]


class ErrorOut(BaseModel):
    error: str = Field(examples=["not_found"])
    detail: str = Field(examples=["no PayTrace user has this phone number"])


class PinStateOut(BaseModel):
    failed_attempts: int
    locked_until: datetime | None
    locked: bool = Field(description="money-out is refused (until locked_until, or until a reset)")
    lock_count: int = Field(description="locks since the last right PIN; each lasts longer")
    reset_required: bool = Field(
        description="only an operator's unlock or an SMS-code reset opens the PIN"
    )


class UserOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.USER]})

    paytrace_id: str
    phone: str
    full_name: str
    language: str
    role: str
    kyc_tier: int
    stellar_address: str
    activation_status: str = Field(description="pending | active | failed (on Stellar)")
    created_at: datetime
    balance: int = Field(description="wallet balance in cents")
    pin: PinStateOut | None

    @classmethod
    def of(cls, view: UserOverview) -> UserOut:
        profile = view.profile
        return cls(
            paytrace_id=profile.paytrace_id,
            phone=profile.phone,
            full_name=profile.full_name,
            language=profile.language,
            role=profile.role,
            kyc_tier=view.kyc_tier,
            stellar_address=profile.stellar_address,
            activation_status=profile.activation_status,
            created_at=view.created_at,
            balance=view.balance,
            pin=PinStateOut(**asdict(view.pin)) if view.pin is not None else None,
        )


class CashInRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [examples.CASH_IN_REQUEST]},
    )

    phone: StrictStr = Field(description="any format; read as a Kenyan number by default")
    amount: StrictInt = Field(gt=0, le=MAX_CASH_IN, description="cents (50000 = KES 500)")
    reference: PrintableStr = Field(
        min_length=1,
        max_length=REFERENCE_MAX,
        description="the agent's or M-Pesa's reference: the idempotency key of the cash-in",
    )


class CashInOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.CASH_IN]})

    transaction_id: int
    reference: str = Field(description="PayTrace's reference, told to the user by SMS")
    kind: str
    phone: str
    amount: int
    fee: int
    created_at: datetime
    balance: int = Field(description="the wallet's balance right after the cash-in, cents")
    replayed: bool = Field(description="true: this reference was cashed in before")

    @classmethod
    def of(cls, movement: Movement, phone: str) -> CashInOut:
        (balance,) = movement.balances.values()
        return cls(
            transaction_id=movement.transaction_id,
            reference=movement.reference,
            kind=movement.kind,
            phone=phone,
            amount=movement.amount,
            fee=movement.fee,
            created_at=movement.created_at,
            balance=balance,
            replayed=movement.replayed,
        )


class ReverseRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [examples.REVERSE_REQUEST]},
    )

    reason: PrintableStr | None = Field(default=None, max_length=REASON_MAX)


class LegOut(BaseModel):
    account_id: int
    account_kind: str = Field(description="wallet | fees | mpesa_float | suspense")
    account_code: str | None = Field(description="system accounts only")
    phone: str | None = Field(description="the wallet's owner")
    full_name: str | None
    amount: int = Field(description="cents: positive in, negative out")
    balance_after: int


SettlementStatus = Literal["pending", "submitted", "settled", "failed"]
STELLAR_HASH = r"^[0-9a-f]{64}$"


class SettlementStateOut(BaseModel):
    """A journal transaction's settlement on Stellar (docs/stellar.md)."""

    model_config = ConfigDict(json_schema_extra={"examples": [examples.SETTLEMENT]})

    status: SettlementStatus = Field(
        description="pending: waiting for the settler (or a wallet's activation); submitted:"
        " its envelope is with the network; settled: applied on the Stellar ledger; failed:"
        " refused by the network and parked for an operator (`POST"
        " /settlements/{transaction_id}/retry` once the cause is fixed)"
    )
    origin: Literal["paytrace", "incoming"] = Field(
        description="incoming: KES paid into a wallet on Stellar from outside PayTrace,"
        " recorded already settled"
    )
    stellar_tx_hash: str | None = Field(
        pattern=STELLAR_HASH, description="the Stellar transaction that settled it"
    )
    ledger: int | None = Field(description="the ledger that applied it (null for incoming)")
    last_error: str | None = Field(
        description="the network's result codes for its operations when it was refused;"
        " kept after a retry until its new envelope is signed"
    )
    envelope_hash: str | None = Field(
        pattern=STELLAR_HASH,
        description="the envelope carrying it: in flight (submitted), applied (settled) or"
        " refused (failed); null while pending",
    )
    settled_at: datetime | None

    @classmethod
    def fields_of(cls, state: SettlementState) -> dict[str, object]:
        return {
            "status": state.status,
            "origin": state.origin,
            "stellar_tx_hash": state.tx_hash,
            "ledger": state.ledger,
            "last_error": state.last_error,
            "envelope_hash": state.envelope_hash,
            "settled_at": state.settled_at,
        }

    @classmethod
    def of(cls, state: SettlementState) -> Self:
        return cls(**cls.fields_of(state))


class SettlementItemOut(SettlementStateOut):
    """A movement's settlement with the journal transaction it mirrors."""

    model_config = ConfigDict(json_schema_extra={"examples": [examples.PARKED_SETTLEMENT]})

    transaction_id: int
    reference: str = Field(description="PayTrace's reference of the journal transaction")
    kind: str = Field(description="transfer | cash_in | reversal")
    amount: int = Field(description="cents")
    fee: int = Field(description="cents")
    created_at: datetime = Field(description="when the journal transaction was posted")

    @classmethod
    def of(cls, state: SettlementState, **extra: object) -> Self:
        return cls(
            transaction_id=state.transaction_id,
            reference=state.reference,
            kind=state.kind,
            amount=state.amount,
            fee=state.fee,
            created_at=state.created_at,
            **SettlementStateOut.fields_of(state),
            **extra,
        )


class SettlementPageOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.SETTLEMENT_PAGE]})

    items: list[SettlementItemOut] = Field(description="in journal order, oldest first")
    next_cursor: str | None = Field(description="pass as `cursor` for the next (newer) page")


class SettlementRetryOut(SettlementItemOut):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.SETTLEMENT_RETRY]})

    retried: bool = Field(
        description="true: it was failed and is pending now; false: it was already pending"
        " (a retry repeated), nothing changed"
    )


class TransactionOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.TRANSACTION]})

    transaction_id: int
    reference: str
    kind: str = Field(description="transfer | cash_in | reversal")
    amount: int
    fee: int
    channel: str
    note: str | None
    reverses: int | None = Field(description="the transaction this reversal undoes")
    reversed_by: int | None = Field(description="the reversal of this transaction, if any")
    created_at: datetime
    legs: list[LegOut]
    settlement: SettlementStateOut | None = Field(
        description="its settlement on Stellar; null when none is recorded (it moves no"
        " money on-chain, e.g. between the float and suspense)"
    )

    @classmethod
    def of(cls, view: TransactionView, **extra: object) -> Self:
        return cls(
            transaction_id=view.id,
            reference=view.reference,
            kind=view.kind,
            amount=view.amount,
            fee=view.fee,
            channel=view.channel,
            note=view.note,
            reverses=view.reverses_id,
            reversed_by=view.reversed_by_id,
            created_at=view.created_at,
            legs=[LegOut(**asdict(leg)) for leg in view.legs],
            settlement=SettlementStateOut.of(view.settlement)
            if view.settlement is not None
            else None,
            **extra,
        )


class ReversalOut(TransactionOut):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.REVERSAL]})

    replayed: bool = Field(description="true: this transaction was reversed before")


class UnlockOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.UNLOCK]})

    unlocked: bool = Field(
        description="true: failures or a lock were cleared and the user is told by SMS"
    )


class LedgerCheckOut(BaseModel):
    """Every count is 0 when the ledger is sound."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "sound": True,
                    "sum_of_all_legs": 0,
                    "sum_of_all_balances": 0,
                    "negative_wallets": 0,
                    "balances_not_equal_to_legs": 0,
                    "unbalanced_transactions": 0,
                }
            ]
        }
    )

    sound: bool = Field(description="true when every figure below is 0")
    sum_of_all_legs: int = Field(description="cents; double entry makes it 0")
    sum_of_all_balances: int = Field(description="cents; 0 as well")
    negative_wallets: int = Field(description="accounts below 0 that may not be")
    balances_not_equal_to_legs: int = Field(description="accounts whose balance drifted")
    unbalanced_transactions: int = Field(description="journal transactions not summing to 0")


class UnsettledMovementOut(BaseModel):
    transaction_id: int
    reference: str
    kind: str = Field(description="transfer | cash_in | reversal")
    status: str = Field(description="pending | submitted | failed (on Stellar)")
    effect: int = Field(description="cents: what it does to this account's ledger balance")


class PartyOut(BaseModel):
    """One account's two sides of the books: expected_on_chain = ledger_balance -
    unsettled_effect, drift = actual_on_chain (0 if none) - expected_on_chain."""

    party: int = Field(description="the wallet's ledger account id; 0 for the treasury")
    kind: str = Field(description="wallet | treasury")
    address: str = Field(description="its Stellar account")
    ledger_balance: int = Field(description="cents")
    unsettled_effect: int = Field(description="cents: net of its movements not yet settled")
    unsettled_movements: int
    expected_on_chain: int = Field(description="cents")
    actual_on_chain: int | None = Field(description="KES cents on Stellar; null: none")
    drift: int = Field(description="cents; 0 when the books agree")
    problem: str | None = Field(description="no_account | no_trustline | fraction_of_a_cent")
    unsettled: list[UnsettledMovementOut] = Field(
        description="its oldest movements not yet settled (all are counted and summed)"
    )


class AwaitingWalletOut(BaseModel):
    party: int
    address: str
    activation_status: str = Field(description="pending | failed")
    ledger_balance: int = Field(description="cents")


class AwaitingActivationOut(BaseModel):
    wallets: int = Field(description="wallets not yet active on Stellar")
    with_balance: int = Field(description="of which hold money in the ledger")
    balance: int = Field(description="cents they hold in the ledger, in all")
    listed: list[AwaitingWalletOut]


class ReconciliationTotalsOut(BaseModel):
    """Informational: with nothing moving, difference = unsettled_effect +
    awaiting_activation_balance - the sum of the drifts."""

    on_chain_held: int = Field(description="KES cents on the checked accounts")
    issuer_side_ledger: int = Field(description="cents: -(float + suspense + clearing)")
    difference: int = Field(description="issuer_side_ledger - on_chain_held")
    unsettled_effect: int
    awaiting_activation_balance: int


class ReconciliationOut(BaseModel):
    """A reconciliation of the ledger against Stellar. Amounts are cents."""

    model_config = ConfigDict(json_schema_extra={"examples": [examples.RECONCILIATION]})

    id: int
    started_at: datetime
    finished_at: datetime
    accounts: int = Field(description="accounts checked: active wallets and the treasury")
    drifts: int = Field(description="accounts whose on-chain balance is not the expected one")
    sound: bool = Field(description="true when drifts is 0")
    treasury: PartyOut
    drifting: list[PartyOut] = Field(description="the first 1000 drifting accounts")
    explained: list[PartyOut] = Field(
        description="accounts that agree once their unsettled movements are counted"
        " (the first 1000)"
    )
    explained_count: int
    awaiting_activation: AwaitingActivationOut = Field(
        description="wallets not active on Stellar yet: their money is on the ledger only"
    )
    totals: ReconciliationTotalsOut
    rechecked: int = Field(description="accounts read a second time after a first drift")

    @classmethod
    def of(cls, stored: StoredReport) -> ReconciliationOut:
        body = {key: value for key, value in stored.report.items() if key != "version"}
        return cls(
            id=stored.id,
            started_at=stored.started_at,
            finished_at=stored.finished_at,
            accounts=stored.accounts,
            drifts=stored.drifts,
            sound=stored.drifts == 0,
            **body,
        )
