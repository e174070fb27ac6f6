"""The ledger on real PostgreSQL: transfers, fees, limits, idempotency, reversals."""

from datetime import UTC, datetime

import psycopg2
import pytest

from app.db.unit_of_work import UnitOfWork
from app.errors import (
    IdempotencyConflict,
    InsufficientFunds,
    LimitExceeded,
    RecipientNotRegistered,
    ValidationFailed,
)
from app.services import adjustments, statements, transfers
from app.services.custody import SecretBox
from app.services.pins import PinHasher
from app.services.transfers import TransferRequest
from tests.support import seeds
from tests.support.wallets import check_ledger, fund, phone_of, register, wallet_balance

ALICE, BOB = phone_of(1), phone_of(2)


@pytest.fixture
def people(settings, clean_database):
    box = SecretBox.from_settings(settings)
    pin_hash = PinHasher.from_settings(settings).hash("4821")
    alice = register(clean_database, box, pin_hash, phone=ALICE, name="Alice Wanjiru")
    bob = register(clean_database, box, pin_hash, phone=BOB, name="Bob Otieno", language="sw")
    return alice, bob


def send(database, sender, to, amount, key="k1", note=None):
    return transfers.transfer(
        UnitOfWork(database),
        TransferRequest(
            sender_user_id=sender, recipient_phone=to, amount=amount, idempotency_key=key, note=note
        ),
    )


def sms_rows(database):
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT payload->>'to', payload->>'template', payload->>'message'"
            " FROM outbox ORDER BY id"
        )
        rows = cur.fetchall()
        conn.rollback()
    return rows


def test_transfer_moves_amount_and_fee_and_queues_two_sms(clean_database, people):
    alice, bob = people
    fund(clean_database, ALICE, 500_000)

    moved = send(clean_database, alice, BOB, 100_000)

    # KES 1,000 is in the 500.01-1,000 band: KES 10 fee.
    assert (moved.amount, moved.fee) == (100_000, 1_000)
    assert moved.balances == {alice: 399_000, bob: 100_000}
    assert wallet_balance(clean_database, alice) == 399_000
    assert wallet_balance(clean_database, bob) == 100_000
    assert len(moved.reference) == 10 and not moved.replayed
    sent = [row for row in sms_rows(clean_database) if row[1].startswith("transfer")]
    assert [(to, template) for to, template, _ in sent] == [
        (ALICE, "transfer_sent"),
        (BOB, "transfer_received"),
    ]
    assert "KES 1,000 sent to Bob Otieno" in sent[0][2] and "Fee KES 10." in sent[0][2]
    assert "Umepokea KES 1,000 kutoka kwa Alice Wanjiru" in sent[1][2]  # Bob reads Kiswahili
    assert check_ledger(clean_database).sum_of_all_legs == 0


def test_same_key_same_request_returns_the_original_and_moves_nothing(clean_database, people):
    alice, _ = people
    fund(clean_database, ALICE, 500_000)
    first = send(clean_database, alice, BOB, 10_000, key="hop-1")

    again = send(clean_database, alice, BOB, 10_000, key="hop-1")

    assert again.replayed and again.transaction_id == first.transaction_id
    assert again.reference == first.reference and again.balances == first.balances
    assert wallet_balance(clean_database, alice) == 490_000


def test_same_key_other_request_is_refused(clean_database, people):
    alice, _ = people
    fund(clean_database, ALICE, 500_000)
    send(clean_database, alice, BOB, 10_000, key="hop-1")

    with pytest.raises(IdempotencyConflict):
        send(clean_database, alice, BOB, 20_000, key="hop-1")


def test_overdraft_is_refused_with_the_balance(clean_database, people):
    alice, bob = people
    fund(clean_database, ALICE, 10_000)

    with pytest.raises(InsufficientFunds) as refused:
        send(clean_database, alice, BOB, 20_000)

    assert (refused.value.balance, refused.value.needed) == (10_000, 20_500)
    assert wallet_balance(clean_database, alice) == 10_000
    assert wallet_balance(clean_database, bob) == 0


def test_sending_the_whole_balance_with_fee_is_refused_but_without_fee_allowed(
    clean_database, people
):
    alice, bob = people
    fund(clean_database, ALICE, 50_000)

    with pytest.raises(InsufficientFunds) as refused:
        send(clean_database, alice, BOB, 50_000, key="a")  # KES 500 + KES 5 fee
    assert (refused.value.balance, refused.value.needed) == (50_000, 50_500)

    moved = send(clean_database, alice, BOB, 49_500, key="b")  # KES 495 + KES 5 fee
    assert moved.balances == {alice: 0, bob: 49_500}


def test_per_transaction_limit_of_the_tier_refuses(clean_database, people):
    alice, _ = people
    fund(clean_database, ALICE, 9_000_000)

    with pytest.raises(LimitExceeded) as refused:
        send(clean_database, alice, BOB, 7_000_100)  # basic tier: KES 70,000 a transaction
    assert refused.value.limit == "per_transaction"


def test_daily_limit_counts_what_was_sent_today(clean_database, people):
    alice, _ = people
    fund(clean_database, ALICE, 30_000_000, reference="big")
    send(clean_database, alice, BOB, 7_000_000, key="1")
    send(clean_database, alice, BOB, 7_000_000, key="2")

    with pytest.raises(LimitExceeded) as refused:
        send(clean_database, alice, BOB, 1_500_000, key="3")  # KES 150,000 a day
    assert (refused.value.limit, refused.value.allowed) == ("daily", 1_000_000)


def test_limits_are_data_an_operator_can_change(clean_database, people):
    alice, _ = people
    fund(clean_database, ALICE, 500_000)
    with clean_database.connection() as conn, conn.cursor() as cur:
        cur.execute("UPDATE kyc_tiers SET per_transaction_limit = 5000 WHERE tier = 1")
        conn.commit()
    try:
        with pytest.raises(LimitExceeded):
            send(clean_database, alice, BOB, 6_000)
    finally:
        with clean_database.connection() as conn, conn.cursor() as cur:
            cur.execute(
                "UPDATE kyc_tiers SET per_transaction_limit = %s WHERE tier = 1",
                (seeds.tier(1).per_transaction,),
            )
            conn.commit()


def test_unregistered_recipient_and_self_are_refused(clean_database, people):
    alice, _ = people
    fund(clean_database, ALICE, 500_000)

    with pytest.raises(RecipientNotRegistered):
        send(clean_database, alice, phone_of(99), 1_000)
    with pytest.raises(ValidationFailed) as refused:
        send(clean_database, alice, ALICE, 1_000)
    assert refused.value.code == "send_to_self"


@pytest.mark.parametrize("amount", [0, -100, 1.5, True, "100"])
def test_amounts_that_are_not_positive_cents_are_refused(clean_database, people, amount):
    alice, _ = people
    with pytest.raises(ValidationFailed) as refused:
        send(clean_database, alice, BOB, amount)
    assert refused.value.code == "invalid_amount"


def test_reversal_undoes_amount_and_fee_once_and_tells_both(clean_database, people):
    alice, bob = people
    fund(clean_database, ALICE, 500_000)
    moved = send(clean_database, alice, BOB, 100_000)

    undone = adjustments.reverse(UnitOfWork(clean_database), transaction_id=moved.transaction_id)
    again = adjustments.reverse(UnitOfWork(clean_database), transaction_id=moved.transaction_id)

    assert undone.balances == {alice: 500_000, bob: 0}
    assert again.replayed and again.transaction_id == undone.transaction_id
    assert wallet_balance(clean_database, alice) == 500_000
    templates = [template for _, template, _ in sms_rows(clean_database)]
    assert templates.count("reversal") == 2
    with pytest.raises(adjustments.NotReversible):
        adjustments.reverse(UnitOfWork(clean_database), transaction_id=undone.transaction_id)
    assert check_ledger(clean_database).balances_not_equal_to_legs == 0


def test_reversal_refused_when_the_recipient_spent_the_money(clean_database, people):
    alice, bob = people
    fund(clean_database, ALICE, 500_000)
    moved = send(clean_database, alice, BOB, 100_000, key="1")
    send(clean_database, bob, ALICE, 90_000, key="2")

    with pytest.raises(InsufficientFunds):
        adjustments.reverse(UnitOfWork(clean_database), transaction_id=moved.transaction_id)


def test_cash_in_is_idempotent_on_its_reference(clean_database, people):
    alice, _ = people
    uow = UnitOfWork(clean_database)
    first = adjustments.cash_in(uow, phone=ALICE, amount=20_000, reference="AGENT-7")
    again = adjustments.cash_in(uow, phone=ALICE, amount=20_000, reference="AGENT-7")

    assert again.replayed and again.transaction_id == first.transaction_id
    assert wallet_balance(clean_database, alice) == 20_000
    with pytest.raises(IdempotencyConflict):
        adjustments.cash_in(uow, phone=ALICE, amount=30_000, reference="AGENT-7")


def test_mini_statement_lists_latest_first_with_counterparty(clean_database, people):
    alice, _ = people
    fund(clean_database, ALICE, 500_000)
    send(clean_database, alice, BOB, 10_000, key="1")
    send(clean_database, alice, BOB, 20_000, key="2")

    lines = statements.mini_statement(UnitOfWork(clean_database), user_id=alice)

    assert [(line.kind, line.amount) for line in lines] == [
        ("transfer", -20_500),
        ("transfer", -10_000),
        ("cash_in", 500_000),
    ]
    assert lines[0].counterparty_name == "Bob Otieno" and lines[2].counterparty_name is None
    assert statements.balance(UnitOfWork(clean_database), user_id=alice) == 469_500


def test_the_database_refuses_an_unbalanced_journal_written_by_hand(clean_database, people):
    conn = psycopg2.connect(clean_database.dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "INSERT INTO journal_transactions (reference, kind, amount, idempotency_key,"
                " request_hash, channel) VALUES ('ABCDEFGH23', 'cash_in', 100, 'raw', 'h',"
                " 'admin') RETURNING id"
            )
            tx_id = cur.fetchone()[0]
            cur.execute(
                "INSERT INTO journal_legs (transaction_id, account_id, amount, balance_after)"
                " SELECT %s, id, 100, 0 FROM ledger_accounts WHERE code = 'fees:0'",
                (tx_id,),
            )
        with pytest.raises(psycopg2.errors.CheckViolation, match="unbalanced"):
            conn.commit()
    finally:
        conn.close()
    assert check_ledger(clean_database).sum_of_all_legs == 0


def test_the_database_refuses_a_balance_edited_by_hand(clean_database, people):
    conn = psycopg2.connect(clean_database.dsn)
    try:
        with conn.cursor() as cur, pytest.raises(psycopg2.errors.IntegrityConstraintViolation):
            cur.execute("UPDATE ledger_accounts SET balance = 100 WHERE code = 'fees:0'")
    finally:
        conn.close()


def test_quote_shows_fee_and_refuses_what_the_transfer_would(clean_database, people):
    alice, _ = people
    fund(clean_database, ALICE, 50_000)
    uow = UnitOfWork(clean_database)

    quote = transfers.quote_transfer(
        uow, sender_user_id=alice, amount=20_000, now=datetime.now(UTC)
    )
    assert (quote.fee, quote.total, quote.balance) == (500, 20_500, 50_000)
    with pytest.raises(InsufficientFunds):
        transfers.quote_transfer(uow, sender_user_id=alice, amount=50_000)


def test_a_locked_pin_stops_sending_but_not_receiving(settings, clean_database, people):
    from app.errors import PinLocked, WrongPin
    from app.services import pins

    alice, bob = people
    fund(clean_database, ALICE, 100_000, reference="a")
    fund(clean_database, BOB, 100_000, reference="b")
    hasher, policy = PinHasher.from_settings(settings), pins.PinPolicy.from_settings(settings)
    uow = UnitOfWork(clean_database)
    for attempt in range(3):
        with pytest.raises((WrongPin, PinLocked)):
            pins.verify_pin(
                uow, hasher, policy, user_id=alice, pin="1357", attempt_key=f"w{attempt}"
            )

    with pytest.raises(PinLocked):
        transfers.send_money(
            uow, hasher, policy, TransferRequest(alice, BOB, 1_000, "locked-send"), pin="4821"
        )
    received = transfers.send_money(
        uow, hasher, policy, TransferRequest(bob, ALICE, 1_000, "to-locked"), pin="4821"
    )

    assert received.balances[alice] == 101_000
    assert wallet_balance(clean_database, bob) == 99_000
