"""Bodies of /api/v1/deposits and /api/v1/withdrawals. Amounts are integer cents; M-Pesa
moves whole shillings, so an amount with cents is refused (422 `invalid_amount`)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from app.api.v1.models import Pin, Strict
from app.domain import mpesa
from app.domain.records.mpesa import Deposit, Withdrawal

# What a user reads of each internal status.
DEPOSIT_STATUS = {
    "requested": "pending",
    "pending": "pending",
    "confirming": "pending",
    "completed": "completed",
    "failed": "failed",
    "disputed": "under_review",
    "unknown": "under_review",
}
WITHDRAWAL_STATUS = {
    "held": "pending",
    "submitted": "pending",
    "completed": "completed",
    "released": "failed",
    "review": "under_review",
}
PublicStatus = Literal["pending", "completed", "failed", "under_review"]
STATUS_HELP = (
    "pending: waiting for M-Pesa; completed: done; failed: M-Pesa did not move the money"
    " (for a withdrawal, the amount and fee are back in the wallet); under_review: PayTrace's"
    " operators are checking it with M-Pesa"
)
Amount = StrictInt


class DepositIn(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"amount": 50000}]})

    amount: Amount = Field(
        gt=0,
        le=mpesa.MAX_PAYMENT,
        description="cents, whole shillings from KES 1 to KES 250,000 (50000 = KES 500)",
    )


class DepositOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "K7QX2M9PLA",
                    "status": "pending",
                    "amount": 50000,
                    "phone": "+254712345678",
                    "mpesa_receipt": None,
                    "result": None,
                    "created_at": "2026-11-29T05:24:41Z",
                    "updated_at": "2026-11-29T05:24:42Z",
                }
            ]
        }
    )

    id: str = Field(description="PayTrace's reference of the deposit")
    status: PublicStatus = Field(description=STATUS_HELP)
    amount: int = Field(description="cents")
    phone: str = Field(description="the M-Pesa number prompted: the user's own")
    mpesa_receipt: str | None = Field(description="M-Pesa's receipt, once paid")
    result: str | None = Field(description="M-Pesa's words for the outcome, once known")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, deposit: Deposit) -> Self:
        return cls(
            id=deposit.reference,
            status=DEPOSIT_STATUS[deposit.status],
            amount=deposit.amount,
            phone=deposit.phone,
            mpesa_receipt=deposit.receipt,
            result=deposit.result_desc if deposit.status in ("completed", "failed") else None,
            created_at=deposit.created_at,
            updated_at=deposit.updated_at,
        )


class WithdrawalIn(Strict):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"amount": 50000, "pin": "4821"}]}
    )

    amount: Amount = Field(
        gt=0,
        le=mpesa.MAX_PAYMENT,
        description="cents paid out, whole shillings from KES 10 to KES 250,000; the fee"
        " comes on top",
    )
    pin: Pin = Field(description="the user's PIN: every money-out is confirmed with it")


class WithdrawalOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "ZP4M8K2WQA",
                    "status": "pending",
                    "amount": 50000,
                    "fee": 1500,
                    "total": 51500,
                    "phone": "+254712345678",
                    "mpesa_receipt": None,
                    "balance": 48500,
                    "created_at": "2026-11-29T05:30:02Z",
                    "updated_at": "2026-11-29T05:30:02Z",
                }
            ]
        }
    )

    id: str = Field(description="PayTrace's reference, as in the SMS")
    status: PublicStatus = Field(description=STATUS_HELP)
    amount: int = Field(description="cents paid out to M-Pesa")
    fee: int = Field(description="cents")
    total: int = Field(description="amount + fee: what left the wallet when it was asked for")
    phone: str = Field(description="the M-Pesa number paid: the user's own")
    mpesa_receipt: str | None = Field(description="M-Pesa's receipt, once paid")
    balance: int | None = Field(
        description="the wallet's balance right after the request (POST only), in cents"
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, withdrawal: Withdrawal, balance: int | None = None) -> Self:
        return cls(
            id=withdrawal.reference,
            status=WITHDRAWAL_STATUS[withdrawal.status],
            amount=withdrawal.amount,
            fee=withdrawal.fee,
            total=withdrawal.total,
            phone=withdrawal.phone,
            mpesa_receipt=withdrawal.receipt if withdrawal.status == "completed" else None,
            balance=balance,
            created_at=withdrawal.created_at,
            updated_at=withdrawal.updated_at,
        )


class WithdrawalQuoteOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"amount": 50000, "fee": 1500, "total": 51500, "balance": 100000}]
        }
    )

    amount: int
    fee: int
    total: int = Field(description="amount + fee, in cents")
    balance: int = Field(description="the wallet's balance now, in cents")
