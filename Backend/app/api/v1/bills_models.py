"""Bodies of /api/v1/bills. Amounts are integer cents in whole shillings; an account is
checked against its biller's rule (a meter, smartcard or account number, or for airtime
a phone number on the biller's network)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Self

from pydantic import BaseModel, Field, StrictInt, StrictStr

from app.api.v1.models import Pin, Strict
from app.domain.bills import DELIVERED, FAILED, REVERSED, Biller
from app.domain.records.bills import BillPayment
from app.services.bills.catalogue import AccountCheck, BillQuote

BillerCode = StrictStr
Account = Field(min_length=1, max_length=32, description="meter/account number, or a phone")
PublicStatus = Literal["pending", "delivered", "failed", "reversed"]
STATUS_HELP = (
    "pending: the amount and fee are held while the biller is paid (or while PayTrace asks"
    " the biller how it went); delivered: paid, the receipt is in `receipt`; failed: not"
    " paid, the amount and fee are back in the wallet; reversed: delivered, then refunded"
    " by the biller: the amount and fee are back in the wallet, less the bill's cashback"
)


class BillerOut(BaseModel):
    code: str
    name: str
    category: Literal["electricity", "water", "tv", "airtime"]
    account_label: str = Field(description="what the account is called, e.g. 'Meter number'")
    min_amount: int = Field(description="cents")
    max_amount: int = Field(description="cents")
    payable: bool = Field(description="false: listed, but its rail is not open yet")

    @classmethod
    def of(cls, b: Biller, open_rails: tuple[str, ...]) -> Self:
        return cls(
            code=b.code,
            name=b.name,
            category=b.category,  # type: ignore[arg-type]
            account_label=b.rule.label,
            min_amount=b.min_amount,
            max_amount=b.max_amount,
            payable=b.rail in open_rails,
        )


class AccountIn(Strict):
    biller: BillerCode = Field(max_length=32, examples=["airtime_safaricom"])
    account: StrictStr = Account


class AccountOut(BaseModel):
    biller: str
    account: str = Field(description="as it will be paid: digits, or an E.164 phone")
    holder_name: str | None = Field(description="the biller's name for the account, when known")
    looked_up: bool = Field(
        description="false: only the account's form was checked; the biller's own records"
        " are asked once its Paybill rail is built"
    )

    @classmethod
    def of(cls, check: AccountCheck) -> Self:
        return cls(
            biller=check.biller.code,
            account=check.account,
            holder_name=check.holder_name,
            looked_up=check.looked_up,
        )


class QuoteIn(AccountIn):
    amount: StrictInt = Field(gt=0, description="cents, whole shillings (10000 = KES 100)")


class QuoteOut(BaseModel):
    biller: str
    account: str
    amount: int
    fee: int
    total: int
    balance: int
    # What the bill would earn back delivered today (cashback rules; 0: none).
    cashback: int

    @classmethod
    def of(cls, q: BillQuote) -> Self:
        return cls(
            biller=q.biller.code,
            account=q.account,
            amount=q.amount,
            fee=q.fee,
            total=q.total,
            balance=q.balance,
            cashback=q.cashback,
        )


class PayIn(QuoteIn):
    pin: Pin


class BillPaymentOut(BaseModel):
    id: str = Field(description="the payment's reference")
    biller: str
    biller_name: str
    account: str
    amount: int
    fee: int
    status: PublicStatus = Field(description=STATUS_HELP)
    receipt: str | None = Field(description="the rail's receipt, once delivered")
    token: str | None = Field(None, description="KPLC prepaid: the 20-digit token, once known")
    units: str | None = Field(None, description="KPLC prepaid: the token's units (kWh)")
    created_at: datetime
    ended_at: datetime | None
    balance: int | None = Field(None, description="the wallet right after paying (POST only)")

    @classmethod
    def of(cls, p: BillPayment, balance: int | None = None) -> Self:
        status = p.status if p.status in (DELIVERED, FAILED, REVERSED) else "pending"
        return cls(
            id=p.reference,
            biller=p.biller_code,
            biller_name=p.biller_name,
            account=p.account,
            amount=p.amount,
            fee=p.fee,
            status=status,  # type: ignore[arg-type]
            receipt=p.receipt,
            token=p.token,
            units=p.units,
            created_at=p.created_at,
            ended_at=p.ended_at,
            balance=balance,
        )


class BillPaymentPage(BaseModel):
    items: list[BillPaymentOut]
    next_cursor: str | None
