"""Reversing a delivered bill the biller refunded: a KPLC token issued to a wrong meter
and cancelled by KPLC, airtime the network reversed. An operator's action, never a
rail's or a user's: it needs the biller's refund reference.

One journal movement, 'bill_reversal', in one transaction with the bill's new state:

* the rail's clearing account (what 'bill_payment' credited: PayTrace owes the provider
  that much less now that the biller gave it back) pays back the amount;
* the fees shard that took the bill's fee pays it back too: the user paid for a bill
  that, in the end, was not paid, and is made whole;
* of that, the cashback the bill earned goes back to the promotions account, and the
  wallet gets the rest (netted in one movement, so the wallet is never asked for money
  it may have spent since);
* the bill becomes 'reversed' (its guard: from delivered only, for good, and only with
  its bill_reversals row), its cashback stops counting against the user's monthly cap,
  and its amount against the day's limits;
* the user's SMS (bill_reversed) goes through the outbox in the same transaction.

Once per bill, ever: the journal key is 'bill_reversal:<bill reference>', the request's
fingerprint its refund reference and reason, so the same request again answers the
same reversal and another one is refused (409).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from app.db.repositories.bills import RefundReferenceTaken
from app.db.repositories.ledger import Overdraft
from app.db.unit_of_work import UnitOfWork
from app.domain.bills import CLEARING_CODES, DELIVERED, REVERSED
from app.domain.money import format_kes, new_reference
from app.domain.promotions import PROMOTIONS
from app.domain.records.bills import BillPayment, BillReversalRow
from app.errors import Conflict, IdempotencyConflict, NotFound, ServiceUnavailable, refused
from app.services.ledger import request_hash, with_fresh_reference
from app.services.notifications import sms_message
from app.services.transfers import fees_shard

JOURNAL_KIND = "bill_reversal"
# As bill_reversals' CHECKs: a biller's refund id (KPLC's, a network's, an M-Pesa receipt).
REFUND_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9./_-]{2,63}$")
REASON_MAX = 200
BILL_REFERENCE = re.compile(r"^[A-Z2-9]{10}$")


class BillNotReversible(Conflict):
    code = "not_reversible"


class RefundReferenceUsed(Conflict):
    code = "refund_reference_used"


@dataclass(frozen=True)
class BillReversal:
    """A bill's reversal as the admin API and the console show it."""

    bill: str  # the bill's reference
    transaction_id: int
    reference: str  # the reversal's journal reference
    amount: int  # the bill's amount (cents)
    fee: int  # its fee, returned
    refunded: int  # to the wallet: amount + fee - cashback_returned
    cashback_returned: int  # to the promotions account
    refund_reference: str
    reason: str
    created_at: datetime
    replayed: bool = False


def reverse_bill(
    uow: UnitOfWork,
    *,
    bill_reference: str,
    refund_reference: str,
    reason: str,
    now: datetime | None = None,
) -> BillReversal:
    """Reverse a delivered bill once (see the module's docstring); commits.

    Raises NotFound (no such bill), ValidationFailed ('invalid_refund_reference',
    'invalid_reason'), BillNotReversible (not delivered: held, unknown, failed, or
    reversed by another request), IdempotencyConflict (reversed before with another
    refund reference or reason), RefundReferenceUsed (the refund reversed another bill).
    """
    bill_reference = bill_reference.strip().upper() if isinstance(bill_reference, str) else ""
    refund_reference = refund_reference.strip() if isinstance(refund_reference, str) else ""
    reason = reason.strip() if isinstance(reason, str) else ""
    if not BILL_REFERENCE.match(bill_reference):
        raise NotFound("no such bill")
    if not REFUND_REFERENCE.match(refund_reference):
        raise refused(
            "invalid_refund_reference",
            "the biller's refund reference: 3 to 64 letters, digits, '.', '/', '_' or '-'",
        )
    if not reason or len(reason) > REASON_MAX or not reason.isprintable():
        raise refused("invalid_reason", f"give a reason, up to {REASON_MAX} characters")
    key = f"{JOURNAL_KIND}:{bill_reference}"
    fingerprint = request_hash(kind=JOURNAL_KIND, refund=refund_reference, reason=reason)

    def attempt() -> BillReversal:
        with uow:
            # The bill's row first, as its endings do: two reversals queue here.
            p = uow.bill_payments.get(bill_reference, for_update=True)
            if p is None:
                raise NotFound("no such bill")
            earlier = uow.ledger.find(key=key)
            if earlier is not None:
                if earlier.request_hash != fingerprint:
                    raise IdempotencyConflict(
                        "this bill was reversed with another refund reference or reason"
                    )
                return _replay(uow, p)
            if p.status != DELIVERED:
                raise BillNotReversible(f"only a delivered bill is reversed; it is {p.status}")
            if uow.bill_payments.refund_reference_used(refund_reference):
                raise RefundReferenceUsed("this refund reference reversed another bill")
            result = _post(uow, p, key, fingerprint, refund_reference, reason, now)
            uow.commit()
        return result

    return with_fresh_reference(attempt)


def _post(
    uow: UnitOfWork,
    p: BillPayment,
    key: str,
    fingerprint: str,
    refund_reference: str,
    reason: str,
    now: datetime | None,
) -> BillReversal:
    now = now or datetime.now(UTC)
    clearing, fee_code = CLEARING_CODES[p.rail], fees_shard(p.user_id)
    award = uow.promotions.award_transaction(p.id)
    codes = [clearing] + ([fee_code] if p.fee else []) + ([PROMOTIONS] if award else [])
    # One statement, lock order: the wallet (which every delivery of the user's bills and
    # every reversal of a cashback locks too) and the system accounts.
    locked = uow.ledger.accounts(user_ids=[p.user_id], codes=codes)
    by_code = {a.code: a for a in locked}
    wallet = next(a for a in locked if a.user_id == p.user_id)
    cashback = 0
    # A cashback an operator already reversed on its own is back in the promotions
    # account: taking it from the refund again would charge the user twice.
    if award is not None and uow.ledger.reversal_of(award[1]) is None:
        cashback = award[0]
    refunded = p.total - cashback
    legs = [(by_code[clearing].id, -p.amount)]
    if p.fee:
        legs.append((by_code[fee_code].id, -p.fee))
    if refunded:
        legs.append((wallet.id, refunded))
    if cashback:
        legs.append((by_code[PROMOTIONS].id, cashback))
    reference = new_reference()
    sms = sms_message(
        to=wallet.phone or "",
        template="bill_reversed",
        language=wallet.language or "en",
        dedupe_key=f"bill:{p.reference}:reversed",
        reference=reference,
        biller=p.biller_name,
        bill=p.reference,
        refunded=format_kes(refunded),
        cashback=format_kes(cashback),
        balance=format_kes(wallet.balance + refunded),
    )
    try:
        tx_id = uow.ledger.post(
            reference=reference,
            kind=JOURNAL_KIND,
            amount=p.amount,
            fee=p.fee,
            idempotency_key=key,
            request_hash=fingerprint,
            legs=legs,
            channel="admin",
            created_at=now,
            initiator_user_id=p.user_id,
            note=f"{p.reference} {refund_reference}"[:100],
            messages=(sms,),
        )
    except Overdraft:  # clearing and fees only ever received this bill's money
        raise ServiceUnavailable("a PayTrace account cannot pay this reversal back") from None
    row = BillReversalRow(p.id, tx_id, refund_reference, reason, refunded, cashback, now)
    try:
        uow.bill_payments.add_reversal(row)
    except RefundReferenceTaken:  # a concurrent reversal of another bill took it first
        raise RefundReferenceUsed("this refund reference reversed another bill") from None
    uow.ledger.give_back_outflow(wallet.id, p.hold_day, p.amount)
    return _of(p, row, reference, replayed=False)


def _replay(uow: UnitOfWork, p: BillPayment) -> BillReversal:
    row = uow.bill_payments.reversal(p.id)
    entry = uow.ledger.find(key=f"{JOURNAL_KIND}:{p.reference}")
    assert row is not None and entry is not None and p.status == REVERSED
    return _of(p, row, entry.reference, replayed=True)


def _of(p: BillPayment, row: BillReversalRow, reference: str, *, replayed: bool) -> BillReversal:
    return BillReversal(
        bill=p.reference,
        transaction_id=row.transaction_id,
        reference=reference,
        amount=p.amount,
        fee=p.fee,
        refunded=row.refunded,
        cashback_returned=row.cashback_returned,
        refund_reference=row.refund_reference,
        reason=row.reason,
        created_at=row.created_at,
        replayed=replayed,
    )
