"""Request and response bodies of /api/v1. Amounts are integer cents, always.

Long (over 300 lines) because it is the declarations of every body the PWA API
sends or takes, with examples for the OpenAPI page; no logic lives here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictStr

from app.services.accounts import Profile
from app.services.registration import NAME_MAX

PHONE_EXAMPLE = "+254712345678"
Phone = Annotated[
    StrictStr,
    Field(
        min_length=1,
        max_length=32,
        description="any format; read as a Kenyan number by default",
        examples=[PHONE_EXAMPLE, "0712345678"],
    ),
]
Pin = Annotated[StrictStr, Field(pattern=r"^[0-9]{4}$", examples=["4821"])]
Code = Annotated[
    StrictStr, Field(pattern=r"^[0-9]{6}$", description="the code sent by SMS", examples=["482913"])
]
Language = Literal["en", "sw"]


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- sign-in ---------------------------------------------------------------------------


class OtpRequest(Strict):
    phone: Phone
    purpose: Literal["login", "register", "pin_reset"] = Field(
        default="login",
        description="`login` to sign in, `register` to open a wallet, `pin_reset` to reset "
        "a forgotten or locked PIN",
    )
    language: Language = Field(
        default="en", description="language of the SMS to a number not yet registered"
    )


class OtpSent(BaseModel):
    status: Literal["sent"] = "sent"
    detail: str = Field(
        examples=["if this number can use it, a code is on its way by SMS"],
        description="the same answer for every number, registered or not",
    )
    expires_in: int = Field(description="seconds the code stays valid", examples=[300])


class TokenRequest(Strict):
    phone: Phone
    otp: Code
    pin: Pin


class RefreshRequest(Strict):
    refresh_token: StrictStr = Field(min_length=1, max_length=200)


class TokenOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.c2ln",
                    "token_type": "bearer",
                    "expires_in": 900,
                    "refresh_token": "qzmVR-5obNL8EY4nV9FOhH9abKDX7lAPXzA0CvTTGF0",
                    "refresh_expires_at": "2026-12-28T19:39:18Z",
                }
            ]
        }
    )

    access_token: str = Field(description="JWT; send as `Authorization: Bearer ...`")
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth word, not a secret
    expires_in: int = Field(description="seconds the access token lives", examples=[900])
    refresh_token: str = Field(description="use once with /auth/refresh; it rotates")
    refresh_expires_at: datetime


class RegisterRequest(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "phone": PHONE_EXAMPLE,
                    "otp": "482913",
                    "full_name": "Jane Wanjiku",
                    "pin": "4821",
                    "language": "sw",
                    "accept_terms": True,
                }
            ]
        },
    )

    phone: Phone
    otp: Code
    full_name: Annotated[StrictStr, AfterValidator(_not_blank)] = Field(
        min_length=1, max_length=NAME_MAX + 20
    )
    pin: Pin
    language: Language = "en"
    accept_terms: bool = Field(description="must be true: the user accepted PayTrace's terms")


# ---- the user --------------------------------------------------------------------------


class MeOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "paytrace_id": "PT04817263",
                    "phone": PHONE_EXAMPLE,
                    "full_name": "Jane Wanjiku",
                    "language": "sw",
                    "role": "worker",
                    "stellar_address": "GB3KJPLFUYN5VL6R3GU3EGCGVCKFDSD7BEDX42HWG5BWFKB3KQGJJRMA",
                    "activation_status": "pending",
                }
            ]
        }
    )

    paytrace_id: str
    phone: str
    full_name: str
    language: str
    role: str
    stellar_address: str
    activation_status: str = Field(description="pending | active | failed (on Stellar)")

    @classmethod
    def of(cls, profile: Profile) -> MeOut:
        return cls(
            paytrace_id=profile.paytrace_id,
            phone=profile.phone,
            full_name=profile.full_name,
            language=profile.language,
            role=profile.role,
            stellar_address=profile.stellar_address,
            activation_status=profile.activation_status,
        )


class RegisteredOut(TokenOut):
    user: MeOut


class MePatch(Strict):
    full_name: Annotated[StrictStr, AfterValidator(_not_blank)] | None = Field(
        default=None, min_length=1, max_length=NAME_MAX + 20, examples=["Jane W. Kamau"]
    )
    language: Language | None = None


class PinChange(Strict):
    old_pin: Pin
    new_pin: Pin = Field(description="4 digits, not an easy one like 1234 or 0000")


class PinChanged(BaseModel):
    status: Literal["changed"] = "changed"


class SignedOut(BaseModel):
    status: Literal["signed_out"] = "signed_out"


class PinResetRequest(Strict):
    phone: Phone
    otp: Code = Field(description="the code sent by SMS for `purpose: pin_reset`")
    new_pin: Pin


class PinResetOut(BaseModel):
    status: Literal["pin_reset"] = "pin_reset"


# ---- the wallet ------------------------------------------------------------------------


class LimitsOut(BaseModel):
    tier: int
    per_transaction: int = Field(description="cents")
    daily_remaining: int = Field(description="cents still allowed out today (Nairobi day)")
    rolling_30_days_remaining: int = Field(description="cents still allowed out over 30 days")


class WalletOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "currency": "KES",
                    "balance": 125000,
                    "stellar_address": "GB3KJPLFUYN5VL6R3GU3EGCGVCKFDSD7BEDX42HWG5BWFKB3KQGJJRMA",
                    "activation_status": "active",
                    "limits": {
                        "tier": 1,
                        "per_transaction": 7000000,
                        "daily_remaining": 14975000,
                        "rolling_30_days_remaining": 29975000,
                    },
                }
            ]
        }
    )

    currency: Literal["KES"] = "KES"
    balance: int = Field(description="cents", examples=[125000])
    stellar_address: str
    activation_status: str = Field(description="pending | active | failed (on Stellar)")
    limits: LimitsOut


# Journal kinds: harambee adds a contribution, a campaign's payout and its refunds;
# M-Pesa a deposit, a withdrawal (its hold) and a withdrawal's release; Pay a payment to
# a merchant's till (its note names the merchant and the till); Bills a bill's hold (its
# note names the biller) and its release; Wages a pay run's hold (the employer's), a
# worker's pay and a failed line's release; a bill's cashback and a referral bonus, from
# PayTrace's promotions account; a delivered bill the biller refunded (bill_reversal).
TransactionType = Literal[
    "transfer",
    "cash_in",
    "reversal",
    "contribution",
    "campaign_payout",
    "campaign_refund",
    "deposit",
    "withdrawal",
    "withdrawal_release",
    "merchant_payment",
    "merchant_refund",
    "bill_hold",
    "bill_release",
    "wage_hold",
    "wage_payment",
    "wage_release",
    "cashback",
    "referral_bonus",
    "bill_reversal",
]


class Counterparty(BaseModel):
    name: str
    phone: str = Field(description="masked, e.g. +2547****5678")


SettlementStatus = Literal["pending", "submitted", "settled", "failed"]
STELLAR_HASH = r"^[0-9a-f]{64}$"


class TransactionSettlementOut(BaseModel):
    """Where the movement stands on Stellar: PayTrace's ledger is the book of record and
    every movement between wallets (and PayTrace's own accounts) is mirrored there by KES
    payments, usually within a few seconds."""

    status: SettlementStatus = Field(
        description="pending: waiting to be sent (or for the wallet's Stellar account);"
        " submitted: sent to the network; settled: on the Stellar ledger; failed: refused"
        " by the network and waiting for PayTrace's operators (the movement itself stands)"
    )
    stellar_tx_hash: str | None = Field(
        pattern=STELLAR_HASH,
        description="the Stellar transaction that settled it (settled only)",
        examples=["3389e9f0f1a65f19736cacf544c2e825313e8447f569233bb8db39aa607c8889"],
    )
    ledger: int | None = Field(
        description="the Stellar ledger that applied it; null until settled, and for KES"
        " paid into the wallet from outside PayTrace",
        examples=[52718],
    )


class TransactionOut(BaseModel):
    id: str = Field(description="PayTrace's reference, as in the SMS", examples=["K7QX2M9PLA"])
    type: TransactionType
    direction: Literal["in", "out"]
    amount: int = Field(
        description="cents added to (in) or taken from (out) the wallet, fee included"
    )
    fee: int = Field(description="cents of `amount` that were the fee")
    balance_after: int = Field(description="cents")
    counterparty: Counterparty | None
    note: str | None
    created_at: datetime
    settlement: TransactionSettlementOut | None = Field(
        description="its settlement on Stellar; null when none is recorded (it moves no"
        " money on-chain)"
    )


class TransactionPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "id": "K7QX2M9PLA",
                            "type": "transfer",
                            "direction": "out",
                            "amount": 25500,
                            "fee": 500,
                            "balance_after": 74500,
                            "counterparty": {"name": "Amani Otieno", "phone": "+2547****0111"},
                            "note": "rent",
                            "created_at": "2026-11-28T16:45:29Z",
                            "settlement": {
                                "status": "settled",
                                "stellar_tx_hash": "3389e9f0f1a65f19736cacf544c2e825"
                                "313e8447f569233bb8db39aa607c8889",
                                "ledger": 52718,
                            },
                        }
                    ],
                    "next_cursor": "bDo0Mg",
                }
            ]
        }
    )

    items: list[TransactionOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next (older) page")
