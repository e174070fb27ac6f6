"""Bodies of the harambee routes (/api/v1/campaigns, /contributions, /pledges).

Field names follow the CrowdPay design: a campaign's `title`, `description`,
`target_amount`, `current_amount`, `end_date`, `status`, `code`; a contribution's
`campaign_id`, `amount`, `is_anonymous`, `message`; a pledge's `campaign_id`,
`amount`, `due_date`, `paid_amount`, `status`. Amounts are integer cents.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from app.api.admin_models import PrintableStr
from app.api.v1 import harambee_examples as examples
from app.api.v1.models import Pin, Strict
from app.domain.harambee import DESCRIPTION_MAX, MESSAGE_MAX, TITLE_MAX
from app.services.harambee.common import MAX_PLEDGE, MAX_TARGET
from app.services.transfers import MAX_TRANSFER

MAX_ID = 2**63 - 1  # PostgreSQL's BIGINT
CampaignStatus = Literal["active", "funded", "closed", "cancelled"]
PledgeStatus = Literal["pledged", "partially_paid", "fulfilled", "overdue", "cancelled"]


def _text(value: str) -> str:
    # Line breaks are fine in a description; NUL and lone surrogates never are.
    if not all(ch.isprintable() or ch in "\n\r\t" for ch in value):
        raise ValueError("only printable characters and line breaks are allowed")
    return value


Text = Annotated[StrictStr, AfterValidator(_text)]
Title = Annotated[
    PrintableStr,
    Field(
        min_length=1,
        max_length=TITLE_MAX + 20,
        description=f"3 to {TITLE_MAX} characters any phone can show (GSM-7)",
        examples=["School fees for Amani"],
    ),
]
Description = Annotated[Text, Field(max_length=DESCRIPTION_MAX)]
Message = Annotated[PrintableStr, Field(max_length=MESSAGE_MAX, examples=["Tuko pamoja!"])]
Id = Annotated[StrictInt, Field(ge=1, le=MAX_ID, examples=[1])]


# ---- campaigns -------------------------------------------------------------------------


class CampaignIn(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [examples.NEW]})

    title: Title
    description: Description = ""
    target_amount: StrictInt = Field(gt=0, le=MAX_TARGET, description="cents")
    end_date: date | None = Field(
        default=None, description="the last Nairobi day it takes money (today to a year ahead)"
    )


class CampaignPatch(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [examples.PATCH]})

    title: Title | None = None
    description: Description | None = None
    target_amount: StrictInt | None = Field(default=None, gt=0, le=MAX_TARGET)
    end_date: date | None = Field(default=None, description="null removes the end date")


class CampaignOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.CAMPAIGN]})

    id: int
    code: str = Field(description="six digits: what people type on USSD to find it")
    title: str
    description: str
    currency: Literal["KES"] = "KES"
    target_amount: int = Field(description="cents")
    current_amount: int = Field(
        description="cents raised, read from the campaign's escrow account (plus its payout"
        " once closed; falling to 0 as a cancelled campaign refunds)"
    )
    progress_percent: int = Field(description="whole percent of the target raised")
    status: CampaignStatus
    end_date: date | None
    organiser_name: str
    is_organiser: bool = Field(description="whether the caller organises it")
    created_at: datetime
    updated_at: datetime
    ended_at: datetime | None = Field(description="when it was closed or cancelled")


class CampaignPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [examples.CAMPAIGN], "next_cursor": "YzoxMg"}]}
    )

    items: list[CampaignOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next (older) page")


class MovementOut(BaseModel):
    reference: str = Field(description="PayTrace's reference, as in the SMS")
    amount: int = Field(description="cents")
    created_at: datetime


class CampaignClosedOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.CLOSED]})

    campaign: CampaignOut
    payout: MovementOut | None = Field(
        description="the escrow paid into the organiser's wallet; null when it held nothing"
    )


class CampaignCancelledOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.CANCELLED]})

    campaign: CampaignOut
    refunded_contributors: int = Field(description="contributors refunded by this request")
    refunded_amount: int = Field(description="cents refunded by this request")


class DayOut(BaseModel):
    date: date
    amount: int = Field(description="cents contributed that Nairobi day")
    contributions: int


class PledgeStatusCounts(BaseModel):
    pledged: int = 0
    partially_paid: int = 0
    fulfilled: int = 0
    overdue: int = 0
    cancelled: int = 0


class CampaignStatsOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.STATS]})

    campaign_id: int
    target_amount: int = Field(description="cents")
    total_raised: int = Field(description="cents: the campaign's `current_amount`")
    contributions: int
    contributors: int = Field(description="distinct people who contributed")
    average_contribution: int = Field(description="cents, rounded to the nearest cent")
    pledged_amount: int = Field(description="cents promised by pledges not cancelled")
    pledge_paid_amount: int = Field(description="cents paid toward those pledges")
    daily: list[DayOut] = Field(description="the last 30 Nairobi days, oldest first")
    pledge_statuses: PledgeStatusCounts = Field(description="how many pledges are in each status")


# ---- contributions ---------------------------------------------------------------------


class ContributionIn(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [examples.CONTRIBUTE]})

    campaign_id: Id
    amount: StrictInt = Field(gt=0, le=MAX_TRANSFER, description="cents (50000 = KES 500)")
    is_anonymous: StrictBool = Field(default=False, description="hide my name from others")
    message: Message | None = None
    pin: Pin = Field(description="the contributor's PIN: every money-out is confirmed with it")


class ContributionOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.CONTRIBUTION]})

    id: int
    reference: str = Field(description="PayTrace's reference, as in the SMS")
    campaign_id: int
    amount: int = Field(description="cents")
    is_anonymous: bool
    message: str | None
    contributor_name: str | None = Field(description="null when anonymous (to anyone else)")
    pledge_id: int | None = Field(description="the pledge it paid toward, if any")
    created_at: datetime


class ContributionReceiptOut(ContributionOut):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.RECEIPT]})

    balance: int = Field(description="the contributor's balance right after, in cents")
    campaign_current_amount: int = Field(description="the campaign's escrow right after, cents")


class CampaignContributionOut(BaseModel):
    id: int
    amount: int = Field(description="cents")
    contributor_name: str | None = Field(description="null when anonymous")
    is_anonymous: bool
    message: str | None
    created_at: datetime


class CampaignContributionPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [examples.LISTED], "next_cursor": None}]}
    )

    items: list[CampaignContributionOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next (older) page")


# ---- pledges ---------------------------------------------------------------------------


class PledgeIn(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [examples.PLEDGE]})

    campaign_id: Id
    amount: StrictInt = Field(gt=0, le=MAX_PLEDGE, description="cents promised")
    due_date: date = Field(description="pay by this Nairobi day (today to a year ahead)")
    is_anonymous: StrictBool = False
    message: Message | None = None


class PledgeOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.PLEDGE_OUT]})

    id: int
    campaign_id: int
    campaign_code: str
    campaign_title: str
    amount: int = Field(description="cents promised")
    paid_amount: int = Field(description="cents paid toward it so far")
    remaining_amount: int = Field(description="cents still to pay")
    due_date: date
    status: PledgeStatus
    is_anonymous: bool
    message: str | None
    created_at: datetime


class PledgePage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [examples.PLEDGE_OUT], "next_cursor": None}]}
    )

    items: list[PledgeOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next (older) page")


class PledgePaymentIn(Strict):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"amount": 40000, "pin": "4821"}]}
    )

    amount: StrictInt | None = Field(
        default=None, gt=0, le=MAX_TRANSFER, description="cents; leave out to pay all that remains"
    )
    pin: Pin


class PledgePaymentOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.PAYMENT]})

    pledge: PledgeOut
    contribution: ContributionReceiptOut
