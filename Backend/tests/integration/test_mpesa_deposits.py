"""Deposits through M-Pesa over real HTTP: PayTrace's outbox worker pushes to the local
Daraja sandbox, the sandbox calls PayTrace back, the checker queries what it did not.
Checked in the ledger, the deposit's row, the stored callbacks and the SMS sandbox."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from app.db.unit_of_work import UnitOfWork
from app.services.mpesa.deposits import DepositRequest, request_deposit
from tests.support.mpesa import CALLBACK_FIRST, mpesa_rig, one, rows, stk_paid_body
from tests.support.wallets import check_ledger, phone_of, register, registration_secrets

KES = 100
JANE = phone_of(1)
MSISDN = JANE.removeprefix("+")


@pytest.fixture
def rig(live_settings, database, tmp_path):
    with mpesa_rig(live_settings, database, tmp_path) as rig:
        box, pin_hash = registration_secrets(rig.settings)
        rig.user_id = register(database, box, pin_hash, phone=JANE, name="Jane Wanjiku")
        yield rig


@pytest.fixture
def callback_first_rig(live_settings, database, tmp_path):
    """The rig for a test whose push must be settled by M-Pesa's callback, not the query."""
    with mpesa_rig(live_settings, database, tmp_path, **CALLBACK_FIRST) as rig:
        box, pin_hash = registration_secrets(rig.settings)
        rig.user_id = register(database, box, pin_hash, phone=JANE, name="Jane Wanjiku")
        yield rig


def ask(rig, amount: int, key: str = "k1") -> str:
    requested = request_deposit(
        UnitOfWork(rig.database),
        DepositRequest(user_id=rig.user_id, amount=amount, idempotency_key=key, channel="api"),
        query_after_s=rig.settings.mpesa_stk_query_after_s,
    )
    return requested.deposit.reference


def balance(rig) -> int:
    return one(
        rig.database, "SELECT balance FROM ledger_accounts WHERE user_id = %(u)s", u=rig.user_id
    )[0]


def float_balance(rig) -> int:
    return one(rig.database, "SELECT balance FROM ledger_accounts WHERE code = 'mpesa_float'")[0]


def stk_callback(rig, checkout: str) -> dict:
    [delivery] = [d for d in rig.sandbox.callbacks(checkout) if d["kind"] == "stk_callback"][:1]
    return delivery["body"]


def test_a_deposit_is_pushed_called_back_and_credited_once_with_an_sms(rig):
    reference = ask(rig, 500 * KES)
    _, checkout, tx_id, code, receipt = rig.until(
        lambda: (d := rig.deposit(reference))[0] == "completed" and d
    )
    assert checkout.startswith("ws_CO_") and code == "0" and receipt
    assert balance(rig) == 500 * KES and float_balance(rig) == -500 * KES
    [(journal_id, _, amount, fee)] = rig.journal("deposit")
    assert (journal_id, amount, fee) == (tx_id, 500 * KES, 0)
    # The callback alone credits nothing: M-Pesa confirmed it (STK query) first.
    assert rig.callbacks() == [
        ("stk", "token_matched", "confirming", checkout, "/callbacks/mpesa/stk/***")
    ]
    [sms] = rig.sms(JANE)
    assert f"KES 500 deposited from M-Pesa {receipt} on" in sms
    assert "New balance KES 500." in sms


def test_the_same_callback_delivered_100_times_credits_once(rig):
    reference = ask(rig, 250 * KES)
    checkout = rig.until(lambda: (d := rig.deposit(reference))[0] == "completed" and d[1])
    body = stk_callback(rig, checkout)

    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda _: rig.post_callback("stk", body), range(100)))

    assert {answer.status_code for answer in answers} == {200}
    assert len(rig.journal("deposit")) == 1
    assert balance(rig) == 250 * KES and float_balance(rig) == -250 * KES
    outcomes = [outcome for _, _, outcome, _, _ in rig.callbacks()]
    assert outcomes.count("confirming") == 1 and outcomes.count("duplicate") == 100
    assert len(rig.sms(JANE)) == 1
    assert check_ledger(rig.database).sound


def test_100_copies_racing_the_first_delivery_credit_once(rig):
    # The sandbox sends nothing: the test delivers the one callback, 100 times at once.
    rig.sandbox.scenario(phone=MSISDN, result="success", callback="none", api="stk")
    reference = ask(rig, 300 * KES)
    checkout = rig.until(lambda: rig.deposit(reference)[1])
    body = stk_paid_body(checkout, 300, MSISDN)

    with ThreadPoolExecutor(max_workers=32) as pool:
        answers = list(pool.map(lambda _: rig.post_callback("stk", body), range(100)))

    assert {answer.status_code for answer in answers} == {200}
    assert rig.deposit(reference)[0] == "confirming" and rig.journal("deposit") == []
    rig.until(lambda: rig.deposit(reference)[0] == "completed")
    rig.settle_for(0.5)
    assert len(rig.journal("deposit")) == 1 and balance(rig) == 300 * KES
    outcomes = [outcome for _, _, outcome, _, _ in rig.callbacks()]
    assert sorted(set(outcomes)) == ["confirming", "duplicate"]
    assert outcomes.count("confirming") == 1


def test_a_callback_for_an_unknown_request_credits_nothing_and_is_stored(rig):
    body = {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": "1-2-3",
                "CheckoutRequestID": "ws_CO_NOT_OURS",
                "ResultCode": 0,
                "ResultDesc": "The service request is processed successfully.",
                "CallbackMetadata": {
                    "Item": [
                        {"Name": "Amount", "Value": 1000},
                        {"Name": "MpesaReceiptNumber", "Value": "UKTZZZZZZZ"},
                        {"Name": "PhoneNumber", "Value": int(MSISDN)},
                    ]
                },
            }
        }
    }
    answer = rig.post_callback("stk", body)
    assert answer.status_code == 200
    assert rig.journal("deposit") == [] and balance(rig) == 0
    assert rig.callbacks() == [
        ("stk", "token_matched", "unknown_request", "ws_CO_NOT_OURS", "/callbacks/mpesa/stk/***")
    ]


def test_a_paid_callback_with_a_wrong_amount_credits_nothing_and_disputes_the_deposit(rig):
    rig.sandbox.scenario(phone=MSISDN, result="success", callback="none", api="stk")
    reference = ask(rig, 400 * KES)
    checkout = rig.until(lambda: rig.deposit(reference)[1])
    body = stk_paid_body(checkout, 4000, MSISDN)  # ten times what was asked

    assert rig.post_callback("stk", body).status_code == 200

    assert rig.deposit(reference)[0] == "disputed"
    assert rig.journal("deposit") == [] and balance(rig) == 0
    [(kind, _, outcome, named, _)] = rig.callbacks()
    assert (kind, outcome, named) == ("stk", "amount_mismatch", checkout)
    # (an SMS delivery report from the AT sandbox may be stored beside it)
    detail = one(rig.database, "SELECT detail FROM inbound_callbacks WHERE provider = 'mpesa'")[0]
    assert detail == "paid 400000 cents, asked 40000"
    # The checker does not query a disputed deposit, and nothing credits it later.
    rig.settle_for(1.0)
    assert rig.journal("deposit") == []


def test_a_callback_from_another_phone_credits_nothing(rig):
    rig.sandbox.scenario(phone=MSISDN, result="success", callback="none", api="stk")
    reference = ask(rig, 100 * KES)
    checkout = rig.until(lambda: rig.deposit(reference)[1])
    body = stk_paid_body(checkout, 100, "254799999999")

    rig.post_callback("stk", body)

    assert rig.deposit(reference)[0] == "disputed" and rig.journal("deposit") == []
    assert [outcome for _, _, outcome, _, _ in rig.callbacks()] == ["phone_mismatch"]


def test_a_wrong_token_is_refused_and_still_stored_with_its_token_masked(rig):
    refused = httpx.post(
        f"{rig.paytrace.url}/callbacks/mpesa/stk/not-the-token?deposit=ABCDEFGHJK",
        content=b'{"Body": {}}',
        headers={"Content-Type": "application/json"},
    )
    assert refused.status_code == 403
    assert refused.json()["error"] == "forbidden"
    [(kind, verification, outcome, _, path)] = rig.callbacks()
    assert (kind, verification, outcome, path) == (
        "stk",
        "token_mismatch",
        "rejected",
        "/callbacks/mpesa/stk/***",
    )
    body, query = one(rig.database, "SELECT body, query FROM inbound_callbacks")
    assert (body, query) == ('{"Body": {}}', "deposit=ABCDEFGHJK")


def test_a_malformed_callback_is_stored_and_answered_400_never_500(rig):
    for raw in (b"not json", b"[]", b'{"Body": {"stkCallback": {"ResultCode": 0}}}', b"\xff\x00"):
        answer = httpx.post(rig.callback_url("stk"), content=raw)
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"] == "malformed_callback"
    outcomes = [outcome for _, _, outcome, _, _ in rig.callbacks()]
    assert outcomes == ["malformed"] * 4


def test_a_missing_callback_is_settled_by_the_stk_query(rig):
    rig.sandbox.scenario(phone=MSISDN, result="success", callback="none", api="stk")
    reference = ask(rig, 700 * KES)

    *_, code, receipt = rig.until(lambda: (d := rig.deposit(reference))[0] == "completed" and d)

    assert code == "0" and receipt is None  # the query tells the result, not the receipt
    assert rig.callbacks() == []  # nothing ever called back
    queries = one(rig.database, "SELECT queries FROM mpesa_deposits")[0]
    assert queries == 0  # settled on its first query (the counter counts unanswered ones)
    assert balance(rig) == 700 * KES and len(rig.journal("deposit")) == 1
    [sms] = rig.sms(JANE)
    assert "KES 700 deposited from M-Pesa on" in sms


def test_a_missing_failure_callback_is_settled_as_failed_by_the_query(rig):
    rig.sandbox.scenario(phone=MSISDN, result="cancelled", callback="none", api="stk")
    reference = ask(rig, 700 * KES)
    assert rig.until(lambda: rig.deposit(reference)[0] == "failed")
    assert rig.deposit(reference)[3] == "1032" and balance(rig) == 0


@pytest.mark.parametrize(
    ("amount", "code", "words"),
    [
        (132, "1032", "the M-Pesa prompt was cancelled"),
        (137, "1037", "the M-Pesa prompt was not answered in time"),
        (101, "2001", "the M-Pesa PIN entered was wrong"),
        (111, "1", "your M-Pesa balance was too low"),
    ],
)
def test_a_failed_push_credits_nothing_and_says_why_in_plain_words(
    callback_first_rig, amount, code, words
):
    rig = callback_first_rig
    reference = ask(rig, amount * KES)
    assert rig.until(lambda: rig.deposit(reference)[0] == "failed")
    assert rig.deposit(reference)[3] == code
    assert rig.journal("deposit") == [] and balance(rig) == 0
    [sms] = rig.sms(JANE)
    assert sms == (
        f"PayTrace: your deposit of KES {amount} from M-Pesa did not go through: {words}. "
        "No money was taken. You can try again."
    )
    assert [outcome for _, _, outcome, _, _ in rig.callbacks()] == ["confirming"]


def test_a_failure_told_in_kiswahili(live_settings, database, tmp_path):
    with mpesa_rig(live_settings, database, tmp_path) as rig:
        box, pin_hash = registration_secrets(rig.settings)
        rig.user_id = register(database, box, pin_hash, phone=JANE, name="Juma", language="sw")
        reference = ask(rig, 132 * KES)
        assert rig.until(lambda: rig.deposit(reference)[0] == "failed")
        [sms] = rig.sms(JANE)
        assert "kuweka KES 132 kutoka M-Pesa hakukufanikiwa: ombi la M-Pesa lilikataliwa" in sms


def test_a_repeated_request_asks_m_pesa_once(rig):
    first, again = ask(rig, 100 * KES, key="same"), ask(rig, 100 * KES, key="same")
    assert first == again
    rig.until(lambda: rig.deposit(first)[0] == "completed")
    assert len(rig.sandbox.callbacks(rig.deposit(first)[1])) == 1
    pushes = rows(rig.database, "SELECT count(*) FROM outbox WHERE kind = 'mpesa_stk'")
    assert pushes == [(1,)]


def test_a_push_whose_answer_was_lost_is_still_credited_by_its_callback(rig):
    # As if the worker died after Daraja took the push: no CheckoutRequestID is known.
    reference = ask(rig, 100 * KES)
    with UnitOfWork(rig.database) as uow:
        uow.conn.cursor().execute(
            "UPDATE outbox SET status = 'unknown' WHERE dedupe_key = %(k)s",
            {"k": f"mpesa:stk:{reference}"},
        )
        uow.commit()
    answer = rig.sandbox.stk_push(
        MSISDN, 100, rig.callback_url("stk") + f"?deposit={reference}", AccountReference=reference
    )
    assert answer.status_code == 200

    _, checkout, *_ = rig.until(lambda: (d := rig.deposit(reference))[0] == "completed" and d)

    assert checkout == answer.json()["CheckoutRequestID"]
    assert balance(rig) == 100 * KES
