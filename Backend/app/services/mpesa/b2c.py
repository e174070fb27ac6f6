"""The B2C payout core every payment out to M-Pesa shares: a user's withdrawal from
their wallet (withdrawals.py) and a merchant's payout from its account
(merchant_payouts.py).

`hold` is called inside the caller's transaction, after the caller locked the source
account and its hold shard (in the lock order, one statement) and checked its own rules. It
posts the hold ('withdrawal': source -> mpesa_hold, amount and fee), queues the B2C
request (outbox kind 'mpesa_b2c') under a fresh OriginatorConversationID and records the
withdrawal row. From there on one machinery runs, whoever the source: the outbox worker
sends the request, callbacks only make the checker ask M-Pesa, and only M-Pesa's status
answer pays out or releases (payouts.py, hold_endings.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from app.db.repositories.ledger import LockedAccount
from app.db.repositories.mpesa_withdrawals import Withdrawal, b2c_dedupe_key
from app.db.repositories.outbox import OutboxMessage
from app.db.unit_of_work import UnitOfWork
from app.domain import mpesa
from app.domain.money import new_reference
from app.domain.phone import InvalidPhone
from app.errors import refused
from app.services.merchant_accounts import MerchantFunds


@dataclass(frozen=True)
class Source:
    """Where the money of a B2C payment comes from, locked by the caller."""

    account: LockedAccount | MerchantFunds  # the user's wallet or the merchant's accounts
    hold: LockedAccount  # its hold shard
    user_id: int | None = None
    merchant_id: int | None = None

    def debits(self, total: int) -> list[tuple[int, int]]:
        """The legs that take `total` cents from it."""
        if isinstance(self.account, MerchantFunds):
            return self.account.draw(total)
        return [(self.account.id, -total)]


def payable(phone: str) -> str:
    """The MSISDN M-Pesa pays; raises ValidationFailed ('not_an_mpesa_number')."""
    try:
        return mpesa.msisdn(phone)
    except InvalidPhone:
        raise refused("not_an_mpesa_number", "M-Pesa pays Kenyan mobile numbers only") from None


def withdrawal_fee(uow: UnitOfWork, amount: int) -> int:
    """What a B2C payment of amount costs its source (the 'withdrawal' fee bands)."""
    fee = uow.ledger.fee("withdrawal", amount)
    if fee is None:
        raise refused("invalid_amount", "no fee band covers this amount")
    return fee


def hold(
    uow: UnitOfWork,
    source: Source,
    *,
    phone: str,
    amount: int,
    fee: int,
    key: str,
    fingerprint: str,
    channel: str,
    now: datetime,
    day: date,
    result_wait_s: float,
    note: str,
    outflow: tuple[int, date, int] | None = None,
) -> Withdrawal:
    """Post the hold, queue the B2C request and record the withdrawal, in the caller's
    transaction (it commits). Raises Overdraft (the account's CHECK) and KeyTaken."""
    reference, originator = new_reference(), str(uuid.uuid4())
    hold_id = uow.ledger.post(
        reference=reference,
        kind="withdrawal",
        amount=amount,
        fee=fee,
        idempotency_key=key,
        request_hash=fingerprint,
        legs=[*source.debits(amount + fee), (source.hold.id, amount + fee)],
        channel=channel,
        created_at=now,
        initiator_user_id=source.user_id,
        note=note,
        outflow=outflow,
        messages=(_b2c_request(reference, originator, payable(phone), amount),),
    )
    return uow.withdrawals.add(
        reference=reference,
        user_id=source.user_id,
        merchant_id=source.merchant_id,
        phone=phone,
        amount=amount,
        fee=fee,
        channel=channel,
        originator_conversation_id=originator,
        hold_id=hold_id,
        hold_day=day,
        # Should the B2C never be performed, the worker looks at it after this.
        check_after=now + timedelta(seconds=result_wait_s),
    )


def _b2c_request(reference: str, originator: str, msisdn: str, amount: int) -> OutboxMessage:
    return OutboxMessage(
        kind="mpesa_b2c",
        payload={
            "action": "b2c",
            "withdrawal": reference,
            "originator_conversation_id": originator,
            "phone": msisdn,
            "amount": mpesa.shillings(amount),
        },
        dedupe_key=b2c_dedupe_key(originator),
    )
