"""Merchants: an operator onboards them; the admin API and the merchant API read them.

A merchant is a row and a ledger account of its own (kind 'merchant'), created in one
statement. Onboarding is idempotent on the till number, the merchant's natural key: the
same request again answers the merchant it made, another request naming the till is
refused as `till_taken`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from app.db.repositories.merchants import TillTaken as TillInUse
from app.db.unit_of_work import UnitOfWork
from app.domain import merchants as rules
from app.domain import mpesa
from app.domain.merchants import FeeRule
from app.domain.phone import InvalidPhone, normalise
from app.domain.records.merchants import MerchantKeyRow, MerchantRow, ReceivedPayment
from app.errors import NotFound, ServiceUnavailable, TillTaken, refused
from app.services.ledger import request_hash

PAGE_MAX = 200


@dataclass(frozen=True, slots=True)
class Application:
    """An onboarding request as an operator filled it in (phones in any format)."""

    legal_name: str
    display_name: str
    till_number: str
    contact_phone: str
    payout_phone: str
    payout_schedule: str
    fee: FeeRule
    language: str = "en"  # of the merchant's SMS


@dataclass(frozen=True, slots=True)
class Onboarded:
    merchant: MerchantRow
    replayed: bool  # True: an earlier identical request made it


@dataclass(frozen=True, slots=True)
class MerchantDetail:
    merchant: MerchantRow
    keys: list[MerchantKeyRow]  # live and revoked, oldest first; never a secret


def _phone(raw: str, field: str) -> str:
    try:
        return normalise(raw)
    except InvalidPhone:
        raise refused("invalid_phone", f"{field}: not a valid phone number") from None


def _payout_phone(raw: str) -> str:
    """The payout phone in E.164: a Kenyan mobile number, the only kind M-Pesa pays."""
    phone = _phone(raw, "payout_phone")
    try:
        mpesa.msisdn(phone)
    except InvalidPhone:
        raise refused(
            "invalid_phone", "payout_phone: M-Pesa pays Kenyan mobile numbers only"
        ) from None
    return phone


def checked(application: Application) -> Application:
    """The application with its phones in E.164; raises ValidationFailed ('invalid_till',
    'invalid_display_name', 'invalid_legal_name', 'invalid_phone',
    'invalid_payout_schedule', 'invalid_fee', 'invalid_language')."""
    if not rules.is_till(application.till_number):
        raise refused("invalid_till", "a till number is 5 to 7 digits, not starting with 0")
    problem = rules.display_name_problem(application.display_name)
    if problem is not None:
        raise refused("invalid_display_name", f"display_name: {problem}")
    legal = application.legal_name.strip()
    if not rules.LEGAL_NAME_MIN <= len(legal) <= rules.LEGAL_NAME_MAX or not legal.isprintable():
        raise refused(
            "invalid_legal_name",
            f"legal_name: {rules.LEGAL_NAME_MIN} to {rules.LEGAL_NAME_MAX} printable characters",
        )
    if application.payout_schedule not in rules.PAYOUT_SCHEDULES:
        raise refused("invalid_payout_schedule", "payout_schedule: on_request or daily")
    if application.language not in rules.LANGUAGES:
        raise refused("invalid_language", "language: en or sw")
    problem = application.fee.problem()
    if problem is not None:
        raise refused("invalid_fee", problem)
    return Application(
        legal_name=legal,
        display_name=application.display_name,
        till_number=application.till_number,
        contact_phone=_phone(application.contact_phone, "contact_phone"),
        payout_phone=_payout_phone(application.payout_phone),
        payout_schedule=application.payout_schedule,
        fee=application.fee,
        language=application.language,
    )


def _fingerprint(a: Application) -> str:
    # The language joins the fingerprint only when it is not the default, so that a
    # merchant onboarded before languages existed still answers its own replay.
    language = {} if a.language == "en" else {"language": a.language}
    return request_hash(
        kind="merchant",
        legal_name=a.legal_name,
        display_name=a.display_name,
        till_number=a.till_number,
        contact_phone=a.contact_phone,
        payout_phone=a.payout_phone,
        payout_schedule=a.payout_schedule,
        fee=[a.fee.bps, a.fee.min_cents, a.fee.max_cents],
        **language,
    )


def _earlier(uow: UnitOfWork, till: str, fingerprint: str) -> Onboarded | None:
    found = uow.merchants.by_till(till)
    if found is None:
        return None
    merchant, stored_hash = found
    if stored_hash != fingerprint:
        raise TillTaken(f"till {till} belongs to another merchant")
    return Onboarded(merchant, replayed=True)


def onboard(uow: UnitOfWork, application: Application) -> Onboarded:
    """Create the merchant and its ledger account; commits.

    The same application again returns the merchant (replayed=True). Raises
    ValidationFailed (see `checked`), TillTaken when the till is another merchant's
    (or was onboarded with other details), ServiceUnavailable.
    """
    a = checked(application)
    fingerprint = _fingerprint(a)
    try:
        with uow:
            earlier = _earlier(uow, a.till_number, fingerprint)
            if earlier is not None:
                return earlier
            merchant_id = uow.merchants.create(
                legal_name=a.legal_name,
                display_name=a.display_name,
                till_number=a.till_number,
                contact_phone=a.contact_phone,
                payout_phone=a.payout_phone,
                payout_schedule=a.payout_schedule,
                fee_bps=a.fee.bps,
                fee_min_cents=a.fee.min_cents,
                fee_max_cents=a.fee.max_cents,
                request_hash=fingerprint,
                language=a.language,
            )
            merchant = uow.merchants.get(merchant_id)
            uow.commit()
    except TillInUse:
        # A concurrent onboarding committed this till first: its answer is ours.
        with uow:
            earlier = _earlier(uow, a.till_number, fingerprint)
        if earlier is None:  # the account code was taken, yet no merchant has the till
            raise TillTaken(f"till {a.till_number} is taken") from None
        return earlier
    if merchant is None:  # read back in the transaction that made it
        raise ServiceUnavailable("the merchant was created but could not be read back")
    return Onboarded(merchant, replayed=False)


def get(uow: UnitOfWork, merchant_id: int) -> MerchantRow | None:
    """The merchant with its balance (cents), or None."""
    with uow:
        return uow.merchants.get(merchant_id)


def detail(uow: UnitOfWork, merchant_id: int) -> MerchantDetail | None:
    """The merchant and its API keys (never their secrets), read at one moment; or None."""
    with uow:
        merchant = uow.merchants.get(merchant_id)
        if merchant is None:
            return None
        return MerchantDetail(merchant, uow.merchant_keys.of_merchant(merchant_id))


def page(
    uow: UnitOfWork, *, limit: int, before_id: int | None = None, status: str | None = None
) -> tuple[list[MerchantRow], bool]:
    """One page of merchants, newest first, older than `before_id`, and whether more
    follow. Raises ValueError for a limit out of range, ServiceUnavailable."""
    if not 1 <= limit <= PAGE_MAX:
        raise ValueError(f"limit must be 1..{PAGE_MAX}")
    with uow:
        rows = uow.merchants.page(limit=limit + 1, before_id=before_id, status=status)
    return rows[:limit], len(rows) > limit


@dataclass(frozen=True, slots=True)
class Changes:
    """What an operator changes on a merchant; None leaves a field as it is. The till
    is the merchant's key and never changes."""

    legal_name: str | None = None
    display_name: str | None = None
    contact_phone: str | None = None
    payout_phone: str | None = None
    payout_schedule: str | None = None
    # The fee rule's parts: one sent alone keeps the others as they are under the lock.
    fee_bps: int | None = None
    fee_min_cents: int | None = None
    fee_max_cents: int | None = None
    language: str | None = None
    # A daily payout's minimum to keep and threshold, cents (0: none).
    payout_keep_cents: int | None = None
    payout_threshold_cents: int | None = None

    @property
    def empty(self) -> bool:
        return all(getattr(self, name) is None for name in self.__slots__)


def _as_application(merchant: MerchantRow) -> Application:
    return Application(
        legal_name=merchant.legal_name,
        display_name=merchant.display_name,
        till_number=merchant.till_number,
        contact_phone=merchant.contact_phone,
        payout_phone=merchant.payout_phone,
        payout_schedule=merchant.payout_schedule,
        fee=merchant.fee,
        language=merchant.language,
    )


def _payout_floor(value: int, field: str, code: str) -> None:
    if not 0 <= value <= rules.MAX_PAYOUT_FLOOR_CENTS:
        raise refused(code, f"{field}: cents, 0 to {rules.MAX_PAYOUT_FLOOR_CENTS}")


def update(uow: UnitOfWork, merchant_id: int, changes: Changes) -> MerchantRow:
    """Apply an operator's changes, checked by the onboarding rules; commits.

    The stored onboarding fingerprint follows the merchant as it now is, so the original
    onboarding request, replayed after an edit, is `till_taken`. The daily payouts'
    minimum to keep and threshold are not part of onboarding (nor of its fingerprint).
    Raises NotFound, ValidationFailed ('nothing_to_change', 'invalid_payout_keep',
    'invalid_payout_threshold' and the onboarding codes).
    """
    if changes.empty:
        raise refused("nothing_to_change", "send at least one field to change")
    given = {name: getattr(changes, name) for name in changes.__slots__}
    keep, threshold = given.pop("payout_keep_cents"), given.pop("payout_threshold_cents")
    if keep is not None:
        _payout_floor(keep, "payout_keep_cents", "invalid_payout_keep")
    if threshold is not None:
        _payout_floor(threshold, "payout_threshold_cents", "invalid_payout_threshold")
    with uow:
        merchant = uow.merchants.get(merchant_id, for_update=True)
        if merchant is None:
            raise NotFound("no such merchant")
        wanted = {name: value for name, value in given.items() if value is not None}
        fee = FeeRule(
            wanted.pop("fee_bps", merchant.fee_bps),
            wanted.pop("fee_min_cents", merchant.fee_min_cents),
            wanted.pop("fee_max_cents", merchant.fee_max_cents),
        )
        a = checked(replace(_as_application(merchant), fee=fee, **wanted))
        floor = (
            merchant.payout_keep_cents if keep is None else keep,
            merchant.payout_threshold_cents if threshold is None else threshold,
        )
        same_floor = floor == (merchant.payout_keep_cents, merchant.payout_threshold_cents)
        same = a == checked(_as_application(merchant))
        if same and same_floor:
            return merchant  # nothing differs: nothing written
        if not same_floor:
            uow.merchants.set_payout_floor(
                merchant_id, keep_cents=floor[0], threshold_cents=floor[1]
            )
        if not same:
            _write(uow, merchant_id, a)
        updated = uow.merchants.get(merchant_id)
        uow.commit()
    assert updated is not None  # read in the transaction that wrote it
    return updated


def _write(uow: UnitOfWork, merchant_id: int, a: Application) -> None:
    uow.merchants.update(
        merchant_id,
        legal_name=a.legal_name,
        display_name=a.display_name,
        contact_phone=a.contact_phone,
        payout_phone=a.payout_phone,
        payout_schedule=a.payout_schedule,
        fee_bps=a.fee.bps,
        fee_min_cents=a.fee.min_cents,
        fee_max_cents=a.fee.max_cents,
        language=a.language,
        request_hash=_fingerprint(a),
    )


def set_status(uow: UnitOfWork, merchant_id: int, status: str) -> tuple[MerchantRow, bool]:
    """Suspend ('suspended': its signatures and payments to its till are refused) or
    reactivate ('active') a merchant; the merchant now and whether this call changed it.
    The same status again changes nothing. Raises NotFound, ValueError for another status."""
    if status not in rules.STATUSES:
        raise ValueError(f"status must be one of {rules.STATUSES}")
    with uow:
        merchant = uow.merchants.get(merchant_id, for_update=True)
        if merchant is None:
            raise NotFound("no such merchant")
        if merchant.status == status:
            return merchant, False
        uow.merchants.set_status(merchant_id, status)
        uow.commit()
    return replace(merchant, status=status), True


def payments_page(
    uow: UnitOfWork, merchant_id: int, *, limit: int, before_id: int | None = None
) -> tuple[list[ReceivedPayment], bool]:
    """One page of payments to the merchant's till, newest first, and whether more
    follow. Raises ValueError for a limit out of range, ServiceUnavailable."""
    if not 1 <= limit <= PAGE_MAX:
        raise ValueError(f"limit must be 1..{PAGE_MAX}")
    with uow:
        rows = uow.merchants.payments(merchant_id, before_id=before_id, limit=limit + 1)
    return rows[:limit], len(rows) > limit
