"""Paying a merchant's till on real PostgreSQL: the legs, the balances, the merchant's fee
to a fees shard, the SMS rows, the payment's own row and its settlement on Stellar; a
replay, the limits, a wrong PIN, an unknown or suspended merchant; many payers into one
merchant at once. The ledger check stays sound after each."""

from __future__ import annotations

import pytest

from app.db.pool import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.merchants import FeeRule
from app.errors import (
    IdempotencyConflict,
    InsufficientFunds,
    LimitExceeded,
    MerchantNotFound,
    MerchantUnavailable,
    ValidationFailed,
    WrongPin,
)
from app.services import adjustments, merchants, settlement_plan
from app.services.merchant_payments import payments as merchant_payments
from app.services.merchant_payments import tills
from app.services.merchant_payments.payments import MerchantPayment, MerchantPaymentRequest
from app.services.pins import PinHasher, PinPolicy
from app.services.transfers import fees_shard
from tests.integration.test_credited_account_locked_last import account_of
from tests.integration.test_ledger_concurrency import errors_of, run_together
from tests.support import seeds
from tests.support.merchants import application, execute
from tests.support.mpesa import rows
from tests.support.wallets import (
    check_ledger,
    fund,
    ledger_snapshot,
    phone_of,
    register,
    registration_secrets,
    wallet_balance,
)

PIN, WRONG = "4821", "9356"
TILL = "512345"
# 0.5 %, at least KES 1, at most KES 200 (as tests/support/merchants.py onboards, with
# a minimum): the rule both the fee and its edges are read from.
RULE = FeeRule(50, 100, 20_000)
BASIC = seeds.tier(1)


@pytest.fixture
def world(clean_database: Database, settings):
    box, pin_hash = registration_secrets(settings, PIN)
    payer = register(clean_database, box, pin_hash, phone=phone_of(1), name="Amina Njeri")
    swahili = register(
        clean_database, box, pin_hash, phone=phone_of(2), name="Baraka Mwangi", language="sw"
    )
    fund(clean_database, phone_of(1), 1_000_000)
    fund(clean_database, phone_of(2), 1_000_000)
    merchant = merchants.onboard(UnitOfWork(clean_database), application(TILL, fee=RULE)).merchant
    return clean_database, settings, payer, swahili, merchant


def pay(database: Database, payer: int, amount: int, key: str, till: str = TILL):
    request = MerchantPaymentRequest(payer, till, amount, key)
    return merchant_payments.pay(UnitOfWork(database), request)


def merchant_balance(database: Database, merchant_id: int) -> int:
    row = merchants.get(UnitOfWork(database), merchant_id)
    assert row is not None
    return row.balance


def test_a_payment_moves_the_amount_to_the_merchant_and_its_fee_to_paytrace(world):
    database, _, payer, _, merchant = world
    fee = RULE.fee_for(250_00)
    assert fee == 125  # 0.5 % of KES 250, above the KES 1 minimum

    paid = pay(database, payer, 250_00, "k1")

    assert (paid.amount, paid.payer_fee, paid.merchant_fee) == (250_00, 0, fee)
    assert (paid.display_name, paid.till, paid.replayed) == ("MAMA MBOGA", TILL, False)
    assert paid.balance == wallet_balance(database, payer) == 1_000_000 - 250_00
    assert merchant_balance(database, merchant.id) == 250_00 - fee
    legs = rows(
        database,
        "SELECT a.kind, a.code, l.amount FROM journal_legs l"
        " JOIN ledger_accounts a ON a.id = l.account_id"
        " WHERE l.transaction_id = %(tx)s ORDER BY l.id",
        tx=paid.transaction_id,
    )
    # The merchant's account this payer pays: the shard of its wallet's id mod 8
    # (migration 0062; shard 0 is the merchant's first account, coded by its till).
    shard = account_of(database, payer) % 8
    paid_to = f"merchant:{TILL}:{shard}" if shard else f"merchant:{TILL}"
    assert legs == [
        ("wallet", None, -250_00),
        ("merchant", paid_to, 250_00),
        ("merchant", paid_to, -fee),
        ("fees", fees_shard(payer), fee),
    ]
    assert rows(
        database,
        "SELECT kind, amount, fee, note FROM journal_transactions WHERE id = %(tx)s",
        tx=paid.transaction_id,
    ) == [("merchant_payment", 250_00, fee, f"MAMA MBOGA (till {TILL})")]
    assert rows(
        database,
        "SELECT merchant_id, payer_user_id, amount, fee, channel FROM merchant_payments",
    ) == [(merchant.id, payer, 250_00, fee, "ussd")]
    assert check_ledger(database).sound


def test_the_payer_and_the_merchant_are_told_by_sms_each_in_their_language(world):
    database, _, payer, swahili, merchant = world
    english = pay(database, payer, 250_00, "en")
    kiswahili = pay(database, swahili, 100_00, "sw")

    sms = rows(database, "SELECT dedupe_key, payload FROM outbox WHERE kind = 'sms' ORDER BY id")
    by_key = {key: payload for key, payload in sms}
    mine = by_key[f"journal:{english.reference}:{payer}"]
    assert mine["to"] == phone_of(1) and mine["template"] == "merchant_paid"
    assert f"Paid KES 250 to MAMA MBOGA (till {TILL})" in mine["message"]
    assert "New balance KES 9,750" in mine["message"] and english.reference in mine["message"]
    theirs = by_key[f"journal:{kiswahili.reference}:{swahili}"]
    assert theirs["message"].startswith(f"PayTrace {kiswahili.reference} imethibitishwa. Umelipa")
    told = by_key[f"journal:{english.reference}:merchant:{merchant.id}"]
    assert told["to"] == merchant.contact_phone
    assert told["template"] == "merchant_payment_received"
    assert "KES 250 paid to till 512345 by Amina Njeri" in told["message"]
    assert phone_of(1) not in told["message"]  # the payer's phone masked


def test_a_merchant_onboarded_in_kiswahili_is_told_in_kiswahili(world):
    database, _, payer, _, _ = world
    merchants.onboard(UnitOfWork(database), application("712345", language="sw"))
    paid = pay(database, payer, 100_00, "sw-shop", till="712345")
    (told,) = rows(
        database,
        "SELECT payload->>'message' FROM outbox WHERE payload->>'template' ="
        " 'merchant_payment_received'",
    )
    assert told[0].startswith(f"PayTrace {paid.reference}: KES 100 zimelipwa kwa till 712345")


def test_the_same_key_pays_once_and_another_request_with_it_is_refused(world):
    database, _, payer, _, merchant = world
    first = pay(database, payer, 250_00, "same")
    again = pay(database, payer, 250_00, "same")
    before = ledger_snapshot(database)

    with pytest.raises(IdempotencyConflict):
        pay(database, payer, 300_00, "same")

    assert again.replayed and again.reference == first.reference
    assert (again.balance, again.merchant_fee) == (first.balance, first.merchant_fee)
    assert ledger_snapshot(database) == before
    assert merchant_balance(database, merchant.id) == 250_00 - first.merchant_fee
    assert len(rows(database, "SELECT 1 FROM merchant_payments")) == 1


def test_a_payment_counts_against_the_payers_limits(world):
    database, _, payer, _, _ = world
    fund(database, phone_of(1), BASIC.per_transaction, reference="more")
    before = ledger_snapshot(database)

    with pytest.raises(LimitExceeded) as refused:
        pay(database, payer, BASIC.per_transaction + 1, "over")
    assert refused.value.limit == "per_transaction"
    assert ledger_snapshot(database) == before

    paid = pay(database, payer, BASIC.per_transaction, "at")
    assert paid.amount == BASIC.per_transaction
    assert ledger_snapshot(database).outflows[payer] == BASIC.per_transaction


def test_a_payment_beyond_the_balance_moves_nothing(world):
    database, _, payer, _, _ = world
    before = ledger_snapshot(database)
    with pytest.raises(InsufficientFunds) as refused:
        pay(database, payer, 1_000_001, "too-much")
    assert (refused.value.balance, refused.value.needed) == (1_000_000, 1_000_001)
    assert ledger_snapshot(database) == before


def test_a_wrong_pin_moves_nothing(world):
    database, settings, payer, _, merchant = world
    before = ledger_snapshot(database)
    with pytest.raises(WrongPin):
        merchant_payments.pay_merchant(
            UnitOfWork(database),
            PinHasher.from_settings(settings),
            PinPolicy.from_settings(settings),
            MerchantPaymentRequest(payer, TILL, 250_00, "pin"),
            pin=WRONG,
        )
    assert ledger_snapshot(database).balances == before.balances
    assert ledger_snapshot(database).journal_transactions == before.journal_transactions
    paid = merchant_payments.pay_merchant(
        UnitOfWork(database),
        PinHasher.from_settings(settings),
        PinPolicy.from_settings(settings),
        MerchantPaymentRequest(payer, TILL, 250_00, "pin-again"),
        pin=PIN,
    )
    assert paid.amount == 250_00 and merchant_balance(database, merchant.id) > 0


def test_an_unknown_a_malformed_or_a_suspended_till_is_refused(world):
    database, _, payer, _, merchant = world
    with pytest.raises(MerchantNotFound):
        pay(database, payer, 100_00, "unknown", till="999999")
    for bad in ("012345", "1234", "12345678", "51234a"):
        with pytest.raises(ValidationFailed) as refused:
            pay(database, payer, 100_00, "bad", till=bad)
        assert refused.value.code == "invalid_till"
    execute(database, "UPDATE merchants SET status = 'suspended' WHERE id = %(id)s",
            {"id": merchant.id})  # fmt: skip
    before = ledger_snapshot(database)
    with pytest.raises(MerchantUnavailable):
        pay(database, payer, 100_00, "suspended")
    with pytest.raises(MerchantUnavailable):
        tills.quote_payment(UnitOfWork(database), payer_user_id=payer, till=TILL, amount=100_00)
    with pytest.raises(MerchantUnavailable):
        tills.find_merchant(UnitOfWork(database), till=TILL)
    assert ledger_snapshot(database) == before
    assert check_ledger(database).sound


def test_a_fee_minimum_above_the_payment_takes_the_payment_and_no_more(world):
    database, _, payer, _, _ = world
    steep = merchants.onboard(
        UnitOfWork(database), application("612345", fee=FeeRule(0, 500, 500))
    ).merchant
    paid = pay(database, payer, 300, "small", till="612345")  # KES 3, a KES 5 minimum
    assert paid.merchant_fee == 300
    assert merchant_balance(database, steep.id) == 0
    assert check_ledger(database).sound


def test_a_quote_shows_the_merchant_both_fees_and_the_balance(world):
    database, _, payer, _, _ = world
    quote = tills.quote_payment(UnitOfWork(database), payer_user_id=payer, till=TILL, amount=250_00)
    assert (quote.display_name, quote.till, quote.amount) == ("MAMA MBOGA", TILL, 250_00)
    assert (quote.payer_fee, quote.merchant_fee, quote.total) == (0, 125, 250_00)
    assert quote.balance == 1_000_000


def test_a_payment_settles_on_stellar_as_the_payer_paying_the_treasury(world):
    """The merchant's money is held by the treasury on-chain, as a campaign's escrow is:
    the settler pays the amount from the payer's Stellar account to the treasury; the fee
    moves between two treasury accounts and is no payment at all."""
    database, _, payer, _, _ = world
    paid = pay(database, payer, 250_00, "settle")
    with UnitOfWork(database) as uow:
        pending = [
            s for s in uow.settlements.pending(100) if s.transaction_id == paid.transaction_id
        ]
    (settlement,) = pending
    wallet = rows(database, "SELECT id FROM ledger_accounts WHERE user_id = %(u)s", u=payer)[0][0]
    assert settlement.payers == {wallet} and settlement.parties == {0, wallet}
    (payment,) = settlement_plan.payments_for(settlement)
    assert (payment.payer.party, payment.payee.party, payment.cents) == (wallet, 0, 250_00)


# ---- a hot merchant ----------------------------------------------------------------------

PAYERS = 16
EACH = 4


def test_many_payers_paying_one_merchant_at_once_each_land_once(clean_database, crowd, settings):
    box, pin_hash = registration_secrets(settings, PIN)
    payers = []
    for n in range(1, PAYERS + 1):
        payers.append(register(clean_database, box, pin_hash, phone=phone_of(n)))
        fund(clean_database, phone_of(n), 100_000)
    merchant = merchants.onboard(UnitOfWork(clean_database), application(TILL, fee=RULE)).merchant
    amounts = [1_000 + 137 * i for i in range(PAYERS * EACH)]
    calls = [
        (lambda p=payers[i % PAYERS], a=amount, k=f"hot-{i}": pay(crowd, p, a, k))
        for i, amount in enumerate(amounts)
    ]
    # Each payment twice: a retry racing its original pays once.
    outcomes = run_together(calls + calls)

    assert errors_of(outcomes) == []
    paid = [o for o in outcomes if isinstance(o, MerchantPayment)]
    assert sum(not p.replayed for p in paid) == PAYERS * EACH
    fees = sum(tills.merchant_fee(RULE, a) for a in amounts)
    assert merchant_balance(clean_database, merchant.id) == sum(amounts) - fees
    snapshot = ledger_snapshot(clean_database)
    assert snapshot.balances["fees"] == fees
    assert len(rows(clean_database, "SELECT 1 FROM merchant_payments")) == PAYERS * EACH
    assert check_ledger(clean_database).sound


def test_an_operators_reversal_returns_the_payment_and_the_fee(world):
    """The merchant holds only this payment (less its fee): the reversal nets the
    merchant's two legs into one, so it never takes the account through zero."""
    database, _, payer, _, merchant = world
    paid = pay(database, payer, 250_00, "to-reverse")

    reversed_ = adjustments.reverse(UnitOfWork(database), transaction_id=paid.transaction_id)

    assert reversed_.balances == {payer: 1_000_000}
    assert merchant_balance(database, merchant.id) == 0
    assert ledger_snapshot(database).balances["fees"] == 0
    assert check_ledger(database).sound
