"""My recent tokens: the prepaid tokens of a user's last delivered bills, sent again by
SMS to the user's own phone (a token typed wrong, an SMS deleted). Nothing moves; the
SMS go through the outbox like every other."""

from __future__ import annotations

import hashlib

from app.db.unit_of_work import UnitOfWork
from app.errors import NotFound
from app.services.bills.endings import spaced_token
from app.services.notifications import queue_sms

RECENT_TOKENS = 5


def resend_tokens(uow: UnitOfWork, *, user_id: int, key: str, limit: int = RECENT_TOKENS) -> int:
    """Queue the SMS of the tokens of the user's last `limit` delivered prepaid bills,
    newest first; returns how many tokens that is (0: none yet). Once per key: the same
    key again queues nothing more and answers the same count. Raises NotFound (no
    wallet)."""
    # The dedupe key carries a digest of the channel's key: one resend per request.
    request = hashlib.sha256(f"{user_id}:{key}".encode()).hexdigest()[:24]
    with uow:
        wallets = uow.ledger.accounts(user_ids=[user_id], for_update=False)
        if not wallets:
            raise NotFound("no wallet for this user")
        wallet = wallets[0]
        found = uow.bill_payments.with_tokens(user_id, limit=limit)
        for p in found:
            assert p.token is not None  # with_tokens reads only those
            queue_sms(
                uow,
                to=wallet.phone or "",
                template="bill_token",
                language=wallet.language or "en",
                dedupe_key=f"bill:{p.reference}:token:again:{request}",
                reference=p.reference,
                account=p.account,
                token=spaced_token(p.token),
                units=p.units or "-",
            )
        uow.commit()
    return len(found)
