"""The incoming-payments service on real PostgreSQL (no network): a sorted payment is
recorded with the moved cursor in one transaction, credited once, and a cursor moved
by another watcher refuses the write."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.db.unit_of_work import UnitOfWork
from app.services import incoming_payments
from app.services.incoming_payments import CursorMoved, Sorted
from tests.support.wallets import (
    phone_of,
    register,
    registration_secrets,
    wallet_balance,
)

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
OUTSIDER = "G" + "A" * 55


@pytest.fixture
def wallet(settings, clean_database) -> tuple[int, str]:
    box, pin_hash = registration_secrets(settings)
    user_id = register(clean_database, box, pin_hash, phone=phone_of(1))
    with UnitOfWork(clean_database) as uow, uow.conn.cursor() as cur:
        cur.execute("SELECT stellar_address FROM wallets WHERE user_id = %s", (user_id,))
        (address,) = cur.fetchone()
    return user_id, address


def payment(op: str, to: str, *, user_id: int | None, reason: str | None = None) -> Sorted:
    return Sorted(
        operation_id=op,
        paging_token=f"{op}00",
        tx_hash=f"{int(op):064x}",
        from_address=OUTSIDER,
        to_address=to,
        cents=2_000,
        reason=reason,
        user_id=user_id,
    )


def outbox_count(database) -> int:
    with UnitOfWork(database) as uow, uow.conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM outbox WHERE kind = 'sms'")
        return cur.fetchone()[0]


def test_a_payment_to_a_wallet_is_credited_once_with_its_sms(clean_database, wallet):
    user_id, address = wallet
    uow = lambda: UnitOfWork(clean_database)  # noqa: E731
    start = incoming_payments.start_cursor(uow(), "100")
    sms_before = outbox_count(clean_database)
    paid = payment("7", address, user_id=user_id)

    assert incoming_payments.record(uow(), start, paid.paging_token, paid, now=NOW) == "credited"
    assert incoming_payments.record(uow(), paid.paging_token, "800", paid, now=NOW) is None

    assert wallet_balance(clean_database, user_id) == 2_000
    assert outbox_count(clean_database) == sms_before + 1
    assert incoming_payments.stored_cursor(uow()) == "800"


def test_an_ignored_payment_is_recorded_with_its_reason_and_credits_nothing(clean_database, wallet):
    user_id, address = wallet
    uow = lambda: UnitOfWork(clean_database)  # noqa: E731
    start = incoming_payments.start_cursor(uow(), "100")
    ignored = payment("8", address, user_id=None, reason=incoming_payments.FROM_PAYTRACE)

    assert incoming_payments.record(uow(), start, ignored.paging_token, ignored, now=NOW)

    with UnitOfWork(clean_database) as unit:
        [row] = unit.incoming.all()
    assert (row.outcome, row.reason, row.transaction_id) == (
        "ignored",
        incoming_payments.FROM_PAYTRACE,
        None,
    )
    assert wallet_balance(clean_database, user_id) == 0


def test_a_cursor_moved_by_another_watcher_refuses_the_write(clean_database, wallet):
    user_id, address = wallet
    uow = lambda: UnitOfWork(clean_database)  # noqa: E731
    incoming_payments.start_cursor(uow(), "100")
    paid = payment("9", address, user_id=user_id)

    with pytest.raises(CursorMoved) as moved:
        incoming_payments.record(uow(), "50", paid.paging_token, paid, now=NOW)

    assert str(moved.value) == "100"
    assert incoming_payments.stored_cursor(uow()) == "100"
    assert wallet_balance(clean_database, user_id) == 0


def test_a_second_start_keeps_the_first_watchers_cursor(clean_database):
    uow = lambda: UnitOfWork(clean_database)  # noqa: E731
    assert incoming_payments.stored_cursor(uow()) is None
    assert incoming_payments.start_cursor(uow(), "100") == "100"
    assert incoming_payments.start_cursor(uow(), "200") == "100"


def test_known_parties_names_the_wallets_on_a_page(clean_database, wallet):
    user_id, address = wallet
    record = {"type": "payment", "to": address, "from": OUTSIDER, "transaction_hash": "h"}

    known = incoming_payments.known_parties(UnitOfWork(clean_database), [record])

    assert known.wallets == {address: user_id}
    assert known.own_hashes == set()
