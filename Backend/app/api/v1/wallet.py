"""The signed-in user's wallet: balance, limits and history."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from app.api.cursors import decode_cursor, encode_cursor
from app.api.v1.context import Api, CurrentUser
from app.api.v1.models import (
    Counterparty,
    LimitsOut,
    TransactionOut,
    TransactionPage,
    TransactionSettlementOut,
    TransactionType,
    WalletOut,
)
from app.api.v1.responses import COMMON, SIGNED_IN
from app.domain.money import NAIROBI
from app.domain.phone import mask
from app.domain.records.ledger import StatementFilter, StatementLine
from app.errors import refused
from app.services import accounts, statements

router = APIRouter(prefix="/api/v1/wallet", tags=["wallet"], responses={**COMMON, **SIGNED_IN})

_CURSOR = "l"  # the wallet history's cursors


@router.get("", summary="My wallet: balance and limits")
async def get_wallet(api: Api, caller: CurrentUser) -> WalletOut:
    """The balance in cents, the Stellar address and what the KYC tier still allows out."""
    profile = await api.services.run(accounts.get_profile_by_id, caller.user_id)
    summary = await api.services.run(statements.wallet_summary, user_id=caller.user_id)
    return WalletOut(
        balance=summary.balance,
        stellar_address=profile.stellar_address,
        activation_status=profile.activation_status,
        limits=LimitsOut(
            tier=summary.limits.tier,
            per_transaction=summary.limits.per_transaction,
            daily_remaining=summary.daily_remaining,
            rolling_30_days_remaining=summary.rolling_30_days_remaining,
        ),
    )


def _nairobi_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=NAIROBI)


def _item(line: StatementLine) -> TransactionOut:
    counterparty = None
    if line.counterparty_name is not None and line.counterparty_phone is not None:
        counterparty = Counterparty(
            name=line.counterparty_name, phone=mask(line.counterparty_phone)
        )
    return TransactionOut(
        id=line.reference,
        type=line.kind,
        direction="in" if line.amount > 0 else "out",
        amount=abs(line.amount),
        fee=line.fee,
        balance_after=line.balance_after,
        counterparty=counterparty,
        note=line.note,
        created_at=line.created_at,
        settlement=TransactionSettlementOut(
            status=line.settlement_status,
            stellar_tx_hash=line.stellar_tx_hash,
            ledger=line.stellar_ledger,
        )
        if line.settlement_status is not None
        else None,
    )


@router.get("/transactions", summary="My transactions, newest first")
async def list_transactions(
    api: Api,
    caller: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=statements.HISTORY_PAGE_MAX)] = 20,
    cursor: Annotated[
        str | None, Query(max_length=40, description="`next_cursor` of the previous page")
    ] = None,
    date_from: Annotated[
        date | None, Query(alias="from", description="first Nairobi day, e.g. 2026-11-01")
    ] = None,
    date_to: Annotated[
        date | None, Query(alias="to", description="last Nairobi day (inclusive)")
    ] = None,
    type: Annotated[TransactionType | None, Query(description="one kind only")] = None,
    direction: Annotated[Literal["in", "out"] | None, Query()] = None,
) -> TransactionPage:
    """Cursor-paginated: pass `next_cursor` back as `cursor` until it is null. Filters
    combine; a page may be shorter than `limit` only when it is the last."""
    if date_from and date_to and date_from > date_to:
        raise refused("invalid_dates", "'from' must not be after 'to'")
    where = StatementFilter(
        before_leg_id=decode_cursor(_CURSOR, cursor),
        since=_nairobi_midnight(date_from) if date_from else None,
        # The day after the last one, at midnight; the last day there is has no after.
        until=_nairobi_midnight(date_to + timedelta(days=1))
        if date_to and date_to < date.max
        else None,
        kinds=(type,) if type else (),
        direction=direction,
    )
    # Shown, not decided on: from the read replica when there is one.
    lines, more = await api.services.read(
        statements.history, user_id=caller.user_id, limit=limit, where=where
    )
    return TransactionPage(
        items=[_item(line) for line in lines],
        next_cursor=encode_cursor(_CURSOR, lines[-1].leg_id) if more and lines else None,
    )
