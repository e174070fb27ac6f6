"""Incoming payments: sorting what Horizon reports and crediting KES paid into a
PayTrace wallet from outside PayTrace, exactly once, confirmed by SMS.

Each payment of PayTrace's asset, or of anything to a PayTrace wallet or the treasury,
is recorded in `stellar_incoming`: credited, or ignored with its reason. A credit is a
`cash_in` journal transaction from the `stellar_clearing` account (already settled
on-chain: origin 'incoming'), with its SMS in the outbox. A payment of KES to the
treasury that names a pay order (its code as memo, or its id as mux id) pays that
order or is owed back (services/stellar_order_payments.py): `order_paid` or
`owed_back`, never kept silently. The record, the credit and
the moved cursor commit in one database transaction under a lock on the cursor's row,
so a crash can neither credit twice nor skip, and two watchers can never both move it.

PayTrace holds every wallet's keys, so a payment PayTrace did not sign is from
outside. PayTrace's own envelopes are saved in `stellar_transactions` before they are
submitted: any payment whose transaction hash is there is PayTrace's own (already in
the ledger) and is ignored. The watcher that pages Horizon is app/worker/incoming.py.

Over 300 lines because the sorting, the one transaction that records a payment with
the moved cursor, and the cursor itself are safest read in one place; what a payment
naming a pay order does is stellar_order_payments.py.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from stellar_sdk import Asset

from app.db.repositories.incoming import IncomingPayment
from app.db.unit_of_work import UnitOfWork
from app.domain.money import format_kes, new_reference
from app.integrations.stellar import cents_to_amount, to_stroops
from app.services.ledger import request_hash, sms_time, with_fresh_reference
from app.services.notifications import journal_sms_key, sms_message
from app.services.stellar_order_links import OrderNamed, order_named, shorten
from app.services.stellar_order_payments import OWED_BACK, take

log = logging.getLogger("paytrace.stellar.incoming")

CURSOR_NAME = "payments"
# Payment records that move an asset to `to`; the path payments' `amount` and asset are
# what arrived. (create_account and account_merge move XLM only: never credited.)
PAYMENT_TYPES = frozenset({"payment", "path_payment_strict_receive", "path_payment_strict_send"})
STROOPS_PER_CENT = to_stroops(cents_to_amount(1))

NOT_A_WALLET = "not a wallet"
TO_TREASURY = "to treasury: operator"
FROM_PAYTRACE = "from a PayTrace account: operator"


class CursorMoved(Exception):
    """Another watcher moved the cursor since this one read it: start again from it.
    `done` is what this watcher recorded on the page before that."""

    def __init__(self, stored: str | None) -> None:
        super().__init__(stored)
        self.done = WatchPass()


@dataclass(frozen=True)
class WatchPass:
    """What one pass did: payments recorded, of which credited to wallets, ignored,
    paying an order, and owed back."""

    seen: int = 0
    credited: int = 0
    ignored: int = 0
    order_paid: int = 0
    owed_back: int = 0

    def __add__(self, other: WatchPass) -> WatchPass:
        return WatchPass(
            self.seen + other.seen,
            self.credited + other.credited,
            self.ignored + other.ignored,
            self.order_paid + other.order_paid,
            self.owed_back + other.owed_back,
        )

    @classmethod
    def of(cls, outcome: str) -> WatchPass:
        """One recorded payment with this outcome (each field is named after one)."""
        return cls(seen=1, **{outcome: 1})


@dataclass(frozen=True)
class Sorted:
    """A payment the watcher records: reason None means credit user_id's wallet (or,
    with `order`, pay that order); with `order` and a reason, it is owed back."""

    operation_id: str
    paging_token: str
    tx_hash: str
    from_address: str
    to_address: str
    cents: int  # rounded up when there is a fraction of a cent (the reason says so)
    reason: str | None
    user_id: int | None
    order: OrderNamed | None = None  # a payment to the treasury naming a pay order
    closed_at: datetime | None = None  # the network's close time of its ledger
    stroops: int = 0  # exactly what arrived: what a refund sends back


@dataclass(frozen=True)
class Known:
    """What the database knows about one page's addresses and hashes."""

    wallets: dict[str, int]  # address -> user id
    own_hashes: set[str]


def sort_payment(
    record: dict, known: Known, *, asset: Asset, treasury: str, own_accounts: frozenset[str]
) -> Sorted | None:
    """What the watcher does with one /payments record: None when it is none of
    PayTrace's business (another asset between accounts PayTrace does not hold)."""
    if record.get("type") not in PAYMENT_TYPES or record.get("transaction_successful") is False:
        return None
    to, sender, amount = record["to"], record["from"], record["amount"]
    ours = (
        record.get("asset_type") != "native"
        and record.get("asset_code") == asset.code
        and record.get("asset_issuer") == asset.issuer
    )
    user_id = known.wallets.get(to)
    if not ours and user_id is None and to != treasury:
        return None
    if record["transaction_hash"] in known.own_hashes:
        # PayTrace's own settlement: already in the ledger, and already recorded in
        # stellar_settlements; a row here for each would double every payment's writes.
        return None
    cents, fraction = divmod(to_stroops(amount), STROOPS_PER_CENT)
    order = order_named(record) if ours and to == treasury else None
    if not ours:
        name = "XLM" if record.get("asset_type") == "native" else _asset_name(record)
        reason = f"not our asset: {amount} {name}"
    elif to == treasury and order is None:
        reason = TO_TREASURY
    elif user_id is None and order is None:
        reason = NOT_A_WALLET
    elif sender in known.wallets or sender in own_accounts:
        # PayTrace signs for these accounts, and every envelope it signs is saved first.
        reason, order = FROM_PAYTRACE, None
    elif fraction:
        reason = f"amount not whole cents: {amount} {asset.code}"
    else:
        reason = None
    return Sorted(
        operation_id=str(record["id"]),
        paging_token=str(record["paging_token"]),
        tx_hash=record["transaction_hash"],
        from_address=sender,
        to_address=to,
        cents=max(1, cents + (1 if fraction else 0)),
        reason=reason,
        user_id=user_id if reason is None else None,
        order=order,
        closed_at=_closed_at(record.get("created_at")),
        stroops=to_stroops(amount),
    )


def _closed_at(text: object) -> datetime | None:
    """Horizon's `created_at` (its ledger's close time, e.g. 2026-12-04T15:20:41Z)."""
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _asset_name(record: dict) -> str:
    return f"{record.get('asset_code')}:{record.get('asset_issuer')}"


def known_parties(uow: UnitOfWork, records: list[dict]) -> Known:
    """Wallet addresses and PayTrace's own hashes among a page's payments. Read outside
    the commits: a wallet exists before its account can be paid, and an envelope is
    saved before it is submitted, so neither answer can change."""
    payments = [r for r in records if r.get("type") in PAYMENT_TYPES]
    if not payments:
        return Known({}, set())
    addresses = sorted({r["to"] for r in payments} | {r["from"] for r in payments})
    hashes = sorted({r["transaction_hash"] for r in payments})
    with uow:
        return Known(uow.incoming.wallet_owners(addresses), uow.incoming.own_hashes(hashes))


def record(
    uow: UnitOfWork,
    expected: str,
    token: str,
    payment: Sorted | None,
    *,
    now: datetime,
    cursor: str = CURSOR_NAME,
) -> str | None:
    """Record payment (and credit it, or pay the order it names), and move the cursor
    named `cursor` from expected to token, in one transaction; returns the outcome
    recorded now ('credited', 'ignored', 'order_paid', 'owed_back'), None when it was
    seen before. Raises CursorMoved when another watcher moved the cursor,
    ServiceUnavailable when no free transaction reference could be drawn."""

    def attempt() -> str | None:
        with uow:
            stored = uow.incoming.cursor(cursor, for_update=True)
            if stored != expected:
                raise CursorMoved(stored)
            row = None
            if payment is not None:
                uow.incoming.lock_operation(payment.operation_id)
            if payment is not None and not uow.incoming.seen(payment.operation_id):
                row = _recorded(uow, payment, now)
                uow.incoming.add(row)
                if row.outcome == OWED_BACK:  # sent back by the refunder, exactly once
                    uow.incoming.add_refund(row.operation_id, row.from_address, payment.stroops)
            uow.incoming.set_cursor(cursor, token)
            uow.commit()
        if row is not None and row.transaction_id is not None:
            log.info(
                "incoming payment credited",
                extra={
                    "operation_id": row.operation_id,
                    "amount": row.amount,
                    "outcome": row.outcome,
                },
            )
        return None if row is None else row.outcome

    return with_fresh_reference(attempt)


def _recorded(uow: UnitOfWork, payment: Sorted, now: datetime) -> IncomingPayment:
    """What becomes of a payment seen for the first time, done in the caller's
    transaction: its row for stellar_incoming."""
    outcome, reason, transaction_id, order_id = "ignored", payment.reason, None, None
    if payment.order is not None:
        taken = take(uow, payment, payment.order, now)
        outcome, reason = taken.outcome, taken.reason
        transaction_id, order_id = taken.transaction_id, taken.order_id
    elif payment.reason is None:
        outcome, transaction_id = "credited", _credit(uow, payment, now)
    else:
        _log_ignored(payment)
    return IncomingPayment(
        operation_id=payment.operation_id,
        tx_hash=payment.tx_hash,
        from_address=payment.from_address,
        to_address=payment.to_address,
        amount=payment.cents,
        outcome=outcome,
        reason=reason,
        transaction_id=transaction_id,
        order_id=order_id,
    )


def _credit(uow: UnitOfWork, payment: Sorted, now: datetime) -> int:
    """Post the credit from stellar_clearing, its SMS with it; returns its id."""
    assert payment.user_id is not None
    locked = uow.ledger.accounts(user_ids=[payment.user_id], codes=["stellar_clearing"])
    wallet = next(a for a in locked if a.user_id == payment.user_id)
    clearing = next(a for a in locked if a.code == "stellar_clearing")
    assert wallet.phone is not None
    amount, reference = payment.cents, new_reference()
    balance = wallet.balance + amount
    return uow.ledger.post(
        reference=reference,
        kind="cash_in",
        amount=amount,
        fee=0,
        idempotency_key=f"stellar-in:{payment.operation_id}",
        request_hash=request_hash(
            kind="stellar_in",
            operation_id=payment.operation_id,
            to=payment.to_address,
            amount=amount,
        ),
        legs=[(clearing.id, -amount), (wallet.id, amount)],
        channel="system",
        created_at=now,
        note=f"Stellar {payment.from_address}",
        messages=(
            sms_message(
                to=wallet.phone,
                template="stellar_received",
                language=wallet.language or "en",
                dedupe_key=journal_sms_key(reference, payment.user_id),
                reference=reference,
                amount=format_kes(amount),
                sender=shorten(payment.from_address),
                when=sms_time(now),
                balance=format_kes(balance),
            ),
        ),
        on_chain_hash=payment.tx_hash,
    )


def _log_ignored(payment: Sorted) -> None:
    operator = payment.reason is not None and (
        payment.reason.endswith(": operator") or payment.reason.startswith("amount not")
    )
    (log.warning if operator else log.info)(
        "incoming payment not credited",
        extra={
            "operation_id": payment.operation_id,
            "tx_hash": payment.tx_hash,
            "to": payment.to_address,
            "reason": payment.reason,
        },
    )


# ---- the cursor -----------------------------------------------------------------------


def stored_cursor(uow: UnitOfWork, name: str = CURSOR_NAME) -> str | None:
    """Where the watcher stopped in a stream (by default the network's, `payments`), or
    None before its first pass."""
    with uow:
        return uow.incoming.cursor(name)


def start_cursor(uow: UnitOfWork, cursor: str, name: str = CURSOR_NAME) -> str:
    """Store a first watcher's starting cursor unless another stored one first; returns
    the stored one."""
    with uow:
        stored = uow.incoming.start_cursor(name, cursor)
        uow.commit()
    return stored
