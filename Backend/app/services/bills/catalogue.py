"""The biller catalogue as a user sees it: the billers, an account checked against its
biller's rule, and a quote (amount and fee) before anything is held."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from app.db.unit_of_work import UnitOfWork
from app.domain import bills
from app.domain.bills import AccountRefused, Biller
from app.domain.money import format_kes, nairobi_day
from app.domain.phone import InvalidPhone, normalise
from app.errors import BillerNotFound, BillerUnavailable, InsufficientFunds, NotFound, refused
from app.integrations.daraja import Daraja, DarajaError
from app.services.ledger import check_limits
from app.services.promotions import cashback

log = logging.getLogger("paytrace.bills")


@dataclass(frozen=True)
class AccountCheck:
    biller: Biller
    account: str  # as it will be paid: digits, or an E.164 phone
    # The account holder's name as the biller gives it (Paybill billers, through
    # Daraja); None when not asked.
    holder_name: str | None
    looked_up: bool  # False: the account's form was checked, not the biller's records


@dataclass(frozen=True)
class BillQuote:
    biller: Biller
    account: str
    amount: int  # cents
    fee: int  # cents
    balance: int  # the payer's balance now
    # What the bill would earn back once delivered (cashback rules; 0: none applies).
    cashback: int = 0

    @property
    def total(self) -> int:
        return self.amount + self.fee


def list_billers(uow: UnitOfWork) -> list[Biller]:
    """The billers a user can pay now, in screen order."""
    with uow:
        return uow.billers.active()


def payable_billers(uow: UnitOfWork, open_rails: tuple[str, ...]) -> list[Biller]:
    """The active billers whose rail is open here, in screen order: what USSD offers."""
    return [b for b in list_billers(uow) if b.rail in open_rails]


# A biller's code as the catalogue's CHECK allows it (migration 0024): anything else
# names no biller and is never sent to the database (a NUL cannot even be).
_CODE = re.compile(r"[a-z][a-z0-9_]{1,31}")


def biller(uow: UnitOfWork, code: str) -> Biller:
    """An active biller, inside the caller's transaction; raises BillerNotFound."""
    known = isinstance(code, str) and _CODE.fullmatch(code) is not None
    found = uow.billers.get(code=code) if known else None
    if found is None or not found.active:
        raise BillerNotFound("no such biller")
    return found


def check_account(found: Biller, account: object) -> str:
    """The account as it is paid; raises ValidationFailed ('invalid_account',
    'not_on_network')."""
    if not isinstance(account, str):
        raise refused("invalid_account", f"a {found.rule.label.lower()} is required")
    try:
        return bills.check_account(found, account)
    except AccountRefused as exc:
        if exc.reason == "not_on_network":
            raise refused("not_on_network", f"this number is not on {found.name}") from None
        raise refused("invalid_account", f"not a valid {found.rule.label.lower()}") from None


def check_amount(found: Biller, amount: object) -> int:
    """Raises ValidationFailed ('invalid_amount') unless whole shillings within the
    biller's minimum and maximum."""
    if (
        isinstance(amount, bool)
        or not isinstance(amount, int)
        or not bills.amount_fits(found, amount)
    ):
        low, high = format_kes(found.min_amount), format_kes(found.max_amount)
        raise refused("invalid_amount", f"KES {low} to {high}, whole shillings")
    return amount


def bill_fee(uow: UnitOfWork, found: Biller, amount: int) -> int:
    """The payer's fee of a bill (the fee bands of the biller's fee kind)."""
    fee = uow.ledger.fee(found.fee_kind, amount)
    if fee is None:
        raise refused("invalid_amount", "no fee band covers this amount")
    return fee


def payable(found: Biller, open_rails: tuple[str, ...]) -> None:
    """Raises BillerUnavailable unless the biller's rail is open here."""
    if found.rail not in open_rails:
        raise BillerUnavailable(f"{found.name} cannot be paid yet")


def validate_account(
    uow: UnitOfWork, *, biller_code: str, account: object, lookup: Daraja | None = None
) -> AccountCheck:
    """An account checked against its biller's rule, and for a Paybill biller against
    the biller's records through `lookup` (the holder's name as M-Pesa shows it).
    Raises BillerNotFound, ValidationFailed ('invalid_account', 'not_on_network')."""
    with uow:
        found = biller(uow, biller_code)
    checked = check_account(found, account)
    if found.rail != bills.DARAJA_B2B or lookup is None or found.paybill is None:
        return AccountCheck(found, checked, holder_name=None, looked_up=False)
    try:
        name = lookup.bill_account(paybill=found.paybill, account=checked)
    except DarajaError as exc:  # the form is checked; the biller is asked at payment
        log.warning("biller lookup failed", extra={"biller": found.code, "error": str(exc)})
        return AccountCheck(found, checked, holder_name=None, looked_up=False)
    if name is None:
        raise refused("invalid_account", f"{found.name} does not know this account")
    return AccountCheck(found, checked, holder_name=name, looked_up=True)


def quote_bill(
    uow: UnitOfWork,
    *,
    user_id: int,
    biller_code: str,
    account: object,
    amount: object,
    now: datetime | None = None,
) -> BillQuote:
    """What paying this bill would cost now, and what it would earn back delivered today
    (cashback), without holding anything. Raises
    BillerNotFound, ValidationFailed ('invalid_account', 'not_on_network',
    'invalid_amount'), LimitExceeded, InsufficientFunds, NotFound. Paying checks all of
    it again under lock."""
    today = nairobi_day(now or datetime.now(UTC))
    with uow:
        found = biller(uow, biller_code)
        checked = check_account(found, account)
        cents = check_amount(found, amount)
        wallets = uow.ledger.accounts(user_ids=[user_id], for_update=False)
        if not wallets or wallets[0].limits is None:
            raise NotFound("no wallet for this user")
        wallet = wallets[0]
        check_limits(wallet.limits, cents, *uow.ledger.outflows(wallet.id, today))
        fee = bill_fee(uow, found, cents)
        if wallet.balance < cents + fee:
            raise InsufficientFunds(balance=wallet.balance, needed=cents + fee)
        back = cashback.quoted_cashback(uow, user_id=user_id, found=found, amount=cents, day=today)
    return BillQuote(found, checked, cents, fee, wallet.balance, cashback=back)


def airtime_biller(uow: UnitOfWork, *, phone: object) -> AccountCheck:
    """The airtime biller of a phone's network and the phone as it is topped up: USSD's
    Buy airtime asks a number, not a network. Raises ValidationFailed
    ('invalid_account': not a Kenyan mobile), BillerNotFound (no airtime for its
    network)."""
    try:
        e164 = normalise(phone) if isinstance(phone, str) else ""
    except InvalidPhone:
        e164 = ""
    network = bills.network_of(e164) if e164.startswith("+254") else None
    if network is None:
        raise refused("invalid_account", "not a Kenyan mobile number")
    with uow:
        found = next(
            (b for b in uow.billers.active() if b.category == "airtime" and b.network == network),
            None,
        )
    if found is None:
        raise BillerNotFound("no airtime for this network")
    return AccountCheck(found, check_account(found, e164), holder_name=None, looked_up=False)
