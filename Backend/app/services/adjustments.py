"""Movements operators and agents make: cash-in from the float, and reversals."""

from __future__ import annotations

from datetime import UTC, datetime

from app.db.repositories.ledger import JournalEntry, LockedAccount, Overdraft
from app.db.repositories.outbox import OutboxMessage
from app.db.unit_of_work import UnitOfWork
from app.domain.money import format_kes, new_reference
from app.errors import Conflict, InsufficientFunds, NotFound, refused
from app.services.ledger import (
    CHANNELS,
    Movement,
    check_amount,
    earlier_result,
    request_hash,
    run_idempotent,
    sms_time,
)
from app.services.merchant_accounts import MerchantFunds
from app.services.notifications import journal_sms_key, sms_message
from app.services.sms_texts import REVERSAL_DIRECTION

# One cash-in is at most KES 1,000,000: above that is an operator's typo.
MAX_CASH_IN = 100_000_000
REFERENCE_MAX = 64
# A campaign's money is returned by cancelling it (each contributor refunded once); a
# reversal beside that would pay someone back twice.
HARAMBEE_KINDS = ("contribution", "campaign_payout", "campaign_refund")
# A withdrawal's hold is paid out or released only on M-Pesa's word (services/mpesa);
# reversing one of its movements could pay the user twice.
WITHDRAWAL_KINDS = ("withdrawal", "withdrawal_payout", "withdrawal_release")
# A bill's hold is delivered or released only on its rail's word (services/bills); a
# reversal could give the user the airtime and the money. A delivered bill the biller
# refunded is reversed as a bill (services/bills/reversals), with its cashback, once.
BILL_KINDS = ("bill_hold", "bill_payment", "bill_release", "bill_reversal")
# A pay run's hold is paid out or released line by line (services/wages); a reversal of
# the hold or of a line would pay an employer back what a worker was paid.
WAGE_KINDS = ("wage_hold", "wage_payment", "wage_release")


class NotReversible(Conflict):
    code = "not_reversible"


def cash_in(
    uow: UnitOfWork,
    *,
    phone: str,
    amount: int,
    reference: str,
    channel: str = "admin",
) -> Movement:
    """Credit a wallet from the M-Pesa float (agent or operator cash-in); commits.

    The external reference is the idempotency key: the same reference with the
    same phone and amount returns the original movement; with anything else it
    raises IdempotencyConflict. Raises ValidationFailed ('invalid_amount',
    'invalid_reference', 'invalid_channel') and RecipientNotRegistered-like
    NotFound for an unknown phone.
    """
    check_amount(amount, maximum=MAX_CASH_IN)
    reference = reference.strip() if isinstance(reference, str) else ""
    if not 1 <= len(reference) <= REFERENCE_MAX or not reference.isprintable():
        raise refused("invalid_reference", f"a reference of 1 to {REFERENCE_MAX} characters")
    if channel not in CHANNELS:
        raise refused("invalid_channel", "unknown channel")
    key = f"cash_in:{reference}"
    fingerprint = request_hash(kind="cash_in", phone=phone, amount=amount)

    def attempt() -> Movement:
        with uow:
            user = uow.users.get_by_phone(phone)
            if user is None:
                raise NotFound("no PayTrace user has this phone number")
            locked = uow.ledger.accounts(user_ids=[user.id], codes=["mpesa_float"])
            earlier = earlier_result(uow, key, fingerprint)
            if earlier is not None:
                return earlier
            wallet = next(a for a in locked if a.user_id == user.id)
            float_account = next(a for a in locked if a.code == "mpesa_float")
            ref, now = new_reference(), datetime.now(UTC)
            balance = wallet.balance + amount
            tx_id = uow.ledger.post(
                reference=ref,
                kind="cash_in",
                amount=amount,
                fee=0,
                idempotency_key=key,
                request_hash=fingerprint,
                legs=[(float_account.id, -amount), (wallet.id, amount)],
                channel=channel,
                created_at=now,
                note=reference,
                messages=(
                    sms_message(
                        to=user.phone,
                        template="cash_in",
                        language=user.language,
                        dedupe_key=journal_sms_key(ref, user.id),
                        reference=ref,
                        amount=format_kes(amount),
                        when=sms_time(now),
                        balance=format_kes(balance),
                    ),
                ),
            )
            uow.commit()
        return Movement(tx_id, ref, "cash_in", amount, 0, now, {user.id: balance})

    return run_idempotent(uow, key, fingerprint, attempt)


def reverse(
    uow: UnitOfWork,
    *,
    transaction_id: int,
    reason: str | None = None,
    channel: str = "admin",
) -> Movement:
    """Post the exact opposite of a journal transaction, and tell each wallet by SMS.

    At most one reversal per transaction: asking again returns it (replayed=True).
    Raises NotFound, NotReversible (a reversal, a harambee or withdrawal movement) and
    InsufficientFunds when a wallet no longer holds what it received (an
    operator then settles it by other means).
    """
    key = f"reversal:{transaction_id}"
    fingerprint = request_hash(kind="reversal", transaction_id=transaction_id)
    note = (reason or "").strip()[:100] or None

    def attempt() -> Movement:
        with uow:
            original = uow.ledger.find(transaction_id=transaction_id)
            if original is None:
                raise NotFound("no such transaction")
            if original.kind == "reversal":
                raise NotReversible("a reversal cannot be reversed")
            if original.kind in HARAMBEE_KINDS:
                raise NotReversible("harambee money is returned by cancelling the campaign")
            if original.kind in WITHDRAWAL_KINDS:
                raise NotReversible("a withdrawal is settled or released by M-Pesa's result")
            if original.kind in BILL_KINDS:
                raise NotReversible(
                    "a bill is delivered or released by its rail's answer; a delivered bill"
                    " the biller refunded is reversed as a bill (admin/bills/{id}/reverse)"
                )
            if original.kind in WAGE_KINDS:
                raise NotReversible("wages are paid or released line by line by the pay run")
            if original.kind == "merchant_refund":
                raise NotReversible("a merchant's refund is final")
            # A merchant's account is one of its shards (migration 0062): all of them are
            # locked, and what the reversal takes back from the merchant is drawn from
            # them (the shard the payment went to may have paid out since).
            owned = {leg.account_id for leg in original.legs if leg.kind == "merchant"}
            shards = {account: uow.merchants.accounts_beside(account) for account in owned}
            locked = uow.ledger.accounts(
                account_ids=[
                    *(leg.account_id for leg in original.legs),
                    *(shard for beside in shards.values() for shard in beside),
                ]
            )
            # Under the wallet's lock, which a bill's reversal takes too: a cashback its
            # bill's reversal already returned is not taken from the user again.
            if original.kind == "cashback" and (
                uow.promotions.awarded_bill_status(original.id) == "reversed"
            ):
                raise NotReversible("its bill was reversed, and the cashback with it")
            # Under the merchant account's lock, which every refund takes too: a payment
            # its merchant has refunded (some of) is not also reversed (the payer would be
            # paid back twice); the merchant refunds the rest.
            if original.kind == "merchant_payment" and uow.merchant_refunds.refunded(original.id):
                raise NotReversible("its merchant has refunded some of it: refund the rest")
            earlier = earlier_result(uow, key, fingerprint)
            if earlier is not None:
                return earlier
            by_id = {account.id: account for account in locked}
            ref, now = new_reference(), datetime.now(UTC)
            balances: dict[int, int] = {}
            messages = []
            nets = _netted(original)
            legs: list[tuple[int, int]] = []
            for account_id, amount in nets:
                account = by_id[account_id]
                if account.kind == "wallet" and account.balance < amount:
                    raise InsufficientFunds(balance=account.balance, needed=amount)
                if account.user_id is not None:
                    balances[account.user_id] = account.balance - amount
                    messages.append(_reversal_sms(original, account, -amount, ref))
                if shards.get(account_id) and amount > 0:
                    funds = MerchantFunds(tuple(by_id[shard] for shard in shards[account_id]))
                    if funds.balance < amount:
                        raise InsufficientFunds(balance=funds.balance, needed=amount)
                    legs += funds.draw(amount)
                else:
                    legs.append((account_id, -amount))
            try:
                tx_id = uow.ledger.post(
                    reference=ref,
                    kind="reversal",
                    amount=original.amount,
                    fee=original.fee,
                    idempotency_key=key,
                    request_hash=fingerprint,
                    legs=legs,
                    channel=channel,
                    created_at=now,
                    reverses_id=original.id,
                    note=note,
                    messages=tuple(messages),
                )
            except Overdraft:  # unreachable under the row locks; the CHECK is the backstop
                raise InsufficientFunds(balance=0, needed=original.amount) from None
            uow.commit()
        return Movement(tx_id, ref, "reversal", original.amount, original.fee, now, balances)

    return run_idempotent(uow, key, fingerprint, attempt)


def _netted(original: JournalEntry) -> list[tuple[int, int]]:
    """Each account's legs summed, in the order the accounts first appear: a movement
    that credits and debits one account (a merchant payment: the amount in, the fee out)
    is reversed in one leg, so the reversal never takes the account through zero on the
    way (each leg is checked as it applies)."""
    nets: dict[int, int] = {}
    for leg in original.legs:
        nets[leg.account_id] = nets.get(leg.account_id, 0) + leg.amount
    return [(account_id, amount) for account_id, amount in nets.items() if amount]


def _reversal_sms(
    original: JournalEntry, account: LockedAccount, change: int, reference: str
) -> OutboxMessage:
    language = account.language or "en"
    words = REVERSAL_DIRECTION.get(language, REVERSAL_DIRECTION["en"])
    assert account.phone is not None
    return sms_message(
        to=account.phone,
        template="reversal",
        language=language,
        dedupe_key=journal_sms_key(reference, account.user_id),
        reference=reference,
        original=original.reference,
        amount=format_kes(abs(change)),
        direction=words["in" if change > 0 else "out"],
        balance=format_kes(account.balance + change),
    )
