"""Test data for M-Pesa reconciliation, made the way users make it: deposits,
withdrawals, pay orders paid from M-Pesa (and reversed), merchant payouts and B2B bills
through PayTrace's own service functions, paid (or not) by the local Daraja
sandbox over real HTTP, so its statement is what M-Pesa would show.

Every way of making a movement lives here, so that when the deposit or withdrawal
flow changes (a confirmation step, another state) only this file follows it. What
M-Pesa does on its own - a payment PayTrace never asked for, a transaction it lost,
an amount it changed - is done to the sandbox's own state, never to PayTrace's.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from app.db.unit_of_work import UnitOfWork
from app.integrations.mpesa_statement import SandboxStatement
from app.sandboxes.daraja.store import DB_FILE
from app.services import orders
from app.services.bills.payments import BillRequest, pay_bill
from app.services.merchant_payments import payments as merchant_payments
from app.services.merchant_payments.payments import MerchantPaymentRequest
from app.services.mpesa import merchant_payouts, order_pushes
from app.services.mpesa.deposits import DepositRequest, request_deposit
from app.services.mpesa.withdrawals import WithdrawalRequest, withdraw
from app.services.pins import PinHasher, PinPolicy
from app.worker.bills import PaybillChecker
from tests.support.daraja import reversal_body
from tests.support.mpesa import MpesaRig, mpesa_rig, one, rows
from tests.support.order_mpesa import (
    CUSTOMER,
    after_the_hold,
    new_order,
    order_status,
    pay_from_mpesa,
)
from tests.support.wallets import fund, phone_of, register, registration_secrets

KES = 100
JANE = phone_of(1)
MSISDN = JANE.removeprefix("+")
PIN = "4821"


@contextmanager
def recon_rig(live_settings, database, tmp_path: Path, **overrides: object) -> Iterator[MpesaRig]:
    """The M-Pesa rig with Jane registered and KES 10,000 in her wallet; `rig.statement`
    reads the sandbox's statement, `rig.sandbox_db` is the sandbox's SQLite file;
    `overrides` are settings, as mpesa_rig takes them."""
    with mpesa_rig(live_settings, database, tmp_path, **overrides) as rig:
        box, pin_hash = registration_secrets(rig.settings, PIN)
        rig.user_id = register(database, box, pin_hash, phone=JANE, name="Jane Wanjiku")
        fund(database, JANE, 10_000 * KES)
        rig.statement = SandboxStatement(rig.settings.daraja_base_url)
        rig.sandbox_db = tmp_path / "daraja" / DB_FILE
        yield rig


def ask_deposit(rig: MpesaRig, amount: int) -> str:
    """A deposit asked for as the app does; its reference."""
    requested = request_deposit(
        UnitOfWork(rig.database),
        DepositRequest(rig.user_id, amount, uuid.uuid4().hex, "api"),
        query_after_s=rig.settings.mpesa_stk_query_after_s,
    )
    return requested.deposit.reference


def deposit_status(rig: MpesaRig, reference: str) -> str:
    return rig.deposit(reference)[0]


def deposit_settled(rig: MpesaRig, amount: int, status: str) -> str:
    """A deposit taken through to `status` (completed, failed) by the worker and the
    checker, as in production; its reference."""
    reference = ask_deposit(rig, amount)
    rig.until(lambda: deposit_status(rig, reference) == status)
    return reference


def deposit_left_pending(rig: MpesaRig, amount: int) -> str:
    """A deposit M-Pesa paid but PayTrace has not heard of yet: the push is made, no
    callback comes and the checker has not asked. Its reference."""
    rig.sandbox.scenario(amount=amount // KES, result="success", callback="none", api="stk")
    reference = ask_deposit(rig, amount)
    deadline = time.monotonic() + 10
    while deposit_status(rig, reference) != "pending":
        assert time.monotonic() < deadline, "the push was not made"
        rig.worker.run_once()  # the outbox only: the checker would settle it
        time.sleep(0.05)
    time.sleep(0.3)  # the sandbox's customer answers after its callback delay
    return reference


def withdrawal_settled(rig: MpesaRig, amount: int, status: str) -> str:
    """A withdrawal taken through to `status` (completed, released); its reference."""
    held = withdraw(
        UnitOfWork(rig.database),
        PinHasher.from_settings(rig.settings),
        PinPolicy.from_settings(rig.settings),
        WithdrawalRequest(rig.user_id, amount, uuid.uuid4().hex, "api"),
        pin=PIN,
        result_wait_s=rig.settings.mpesa_result_wait_s,
    )
    reference = held.withdrawal.reference
    rig.until(lambda: rig.withdrawal(reference)[0] == status)
    return reference


def receipt_of(rig: MpesaRig, reference: str) -> str | None:
    """M-Pesa's receipt for a deposit or a withdrawal, as PayTrace stored it."""
    return one(
        rig.database,
        "SELECT receipt FROM mpesa_deposits WHERE reference = %(r)s"
        " UNION ALL SELECT receipt FROM mpesa_withdrawals WHERE reference = %(r)s",
        r=reference,
    )[0]


# ---- what M-Pesa does on its own -------------------------------------------------------


def paid_at_mpesa_only(rig: MpesaRig, amount_kes: int, account: str = "C2BDIRECT") -> str:
    """A customer pays PayTrace's paybill through a push PayTrace never made; the
    receipt, once the sandbox has it paid."""
    answer = rig.sandbox.stk_push(
        MSISDN, amount_kes, "http://127.0.0.1:9/nowhere", AccountReference=account
    )
    assert answer.status_code == 200, answer.text
    checkout = answer.json()["CheckoutRequestID"]
    time.sleep(0.3)
    with sqlite3.connect(rig.sandbox_db) as db:
        (receipt,) = db.execute(
            "SELECT receipt FROM stk_pushes WHERE checkout_request_id = ?", (checkout,)
        ).fetchone()
    return receipt


def mpesa_loses(rig: MpesaRig, receipt: str) -> None:
    """M-Pesa's statement no longer shows this transaction."""
    with sqlite3.connect(rig.sandbox_db) as db:
        db.execute("DELETE FROM stk_pushes WHERE receipt = ?", (receipt,))
        db.execute("DELETE FROM b2c_payments WHERE transaction_id = ?", (receipt,))


def mpesa_paid_instead(rig: MpesaRig, receipt: str, amount_kes: int) -> None:
    """M-Pesa's statement shows another amount for this transaction."""
    with sqlite3.connect(rig.sandbox_db) as db:
        db.execute("UPDATE stk_pushes SET amount = ? WHERE receipt = ?", (amount_kes, receipt))
        db.execute(
            "UPDATE b2c_payments SET amount = ? WHERE transaction_id = ?", (amount_kes, receipt)
        )


# ---- the other rails: pay orders, their reversals, payouts, B2B bills ----------------


def paid_order(rig: MpesaRig, merchant_id: int, key: str, *, stk: bool = False) -> str:
    """A pay order paid from M-Pesa - by Paybill (C2B), or by an STK push to the
    customer - through to `paid`; M-Pesa's TransID of its payment."""
    order = new_order(rig.database, merchant_id, key)
    if stk:
        pushed = order_pushes.start(
            UnitOfWork(rig.database),
            merchant_id,
            order["id"],
            CUSTOMER,
            f"{key}-push",
            datetime.now(UTC),
        )
        assert pushed.status == 202
    else:
        pay_from_mpesa(rig, order["code"], order["amount"] // KES)
    rig.until(lambda: order_status(rig.database, order["id"]) == "paid")
    return one(rig.database, "SELECT trans_id FROM mpesa_order_payments WHERE order_id = %(o)s",
               o=order["id"])[0]  # fmt: skip


def order_payment_returned(rig: MpesaRig, merchant_id: int, key: str) -> str:
    """A paybill payment whose order was canceled while PayTrace confirmed it: owed back,
    then reversed at M-Pesa and returned on the books; its TransID."""
    order = new_order(rig.database, merchant_id, key)
    pay_from_mpesa(rig, order["code"], order["amount"] // KES)
    deadline = time.monotonic() + 5
    while not (trans_id := _order_payment(rig, order["id"])):
        assert time.monotonic() < deadline, "no confirmation came"
        time.sleep(0.02)
    now = datetime.now(UTC)
    orders.cancel(UnitOfWork(rig.database), merchant_id, order["id"], f"{key}-cancel", now)
    rig.until(lambda: _payment_status(rig, trans_id) == "returned")
    return trans_id


def _order_payment(rig: MpesaRig, order_id: int) -> str | None:
    found = rows(rig.database, "SELECT trans_id FROM mpesa_order_payments WHERE bill_ref ="
                 " (SELECT code FROM pay_orders WHERE id = %(o)s)", o=order_id)  # fmt: skip
    return found[0][0] if found else None


def _payment_status(rig: MpesaRig, trans_id: str) -> str:
    return one(rig.database, "SELECT status FROM mpesa_order_payments WHERE trans_id = %(t)s",
               t=trans_id)[0]  # fmt: skip


def merchant_paid_out(rig: MpesaRig, merchant_id: int, amount: int) -> str:
    """A payout of the merchant's balance to its M-Pesa (B2C), paid; M-Pesa's receipt."""
    made = merchant_payouts.request_payout(
        UnitOfWork(rig.database),
        merchant_id,
        uuid.uuid4().hex,
        amount,
        result_wait_s=rig.settings.mpesa_result_wait_s,
        now=datetime.now(UTC),
    )
    assert made.status == 201
    sql = "SELECT w.status, w.receipt FROM mpesa_withdrawals w WHERE w.merchant_id = %(m)s"
    rig.until(lambda: one(rig.database, sql, m=merchant_id)[0] == "completed")
    return one(rig.database, sql, m=merchant_id)[1]


def bill_delivered(rig: MpesaRig, biller: str, account: str, amount: int) -> str:
    """Jane's bill paid through the Daraja B2B rail, delivered; M-Pesa's receipt."""
    held = pay_bill(
        UnitOfWork(rig.database),
        PinHasher.from_settings(rig.settings),
        PinPolicy.from_settings(rig.settings),
        BillRequest(rig.user_id, biller, account, amount, uuid.uuid4().hex),
        pin=PIN,
        open_rails=rig.settings.bill_rails,
    )
    checker = PaybillChecker.from_settings(rig.settings, rig.database)
    reference = held.payment.reference
    sql = "SELECT status, receipt FROM bill_payments WHERE reference = %(r)s"

    def delivered() -> bool:
        checker.run_once()
        return one(rig.database, sql, r=reference)[0] == "delivered"

    rig.until(delivered)
    return one(rig.database, sql, r=reference)[1]


def mpesa_paybill_amount(rig: MpesaRig, trans_id: str, amount_kes: int) -> None:
    """M-Pesa's statement shows another amount for this paybill payment."""
    with sqlite3.connect(rig.sandbox_db) as db:
        db.execute("UPDATE c2b_payments SET amount = ? WHERE trans_id = ?", (amount_kes, trans_id))


def mpesa_loses_reversal(rig: MpesaRig, trans_id: str) -> None:
    """M-Pesa's statement no longer shows the reversal of this payment."""
    with sqlite3.connect(rig.sandbox_db) as db:
        db.execute("DELETE FROM reversals WHERE trans_id = ?", (trans_id,))


def mpesa_lists_twice(rig: MpesaRig, receipt: str) -> None:
    """M-Pesa's statement lists this B2B payment's receipt a second time."""
    with sqlite3.connect(rig.sandbox_db) as db:
        db.execute(
            "INSERT INTO b2b_payments SELECT conversation_id || '-2',"
            " originator_conversation_id || '-2', party_b, account_reference, amount,"
            " result_url, queue_timeout_url, result, result_code, result_desc,"
            " transaction_id, token, units, created_at, settles_at"
            " FROM b2b_payments WHERE transaction_id = ?",
            (receipt,),
        )


def owed_back_reversed_by_hand(rig: MpesaRig, merchant_id: int, key: str) -> str:
    """A paybill payment owed back (a wallet paid its order first) that someone reversed
    at M-Pesa by hand: PayTrace's own reversal is refused, so on PayTrace's books it is
    still owed back (review). Its TransID."""
    order = new_order(rig.database, merchant_id, key)
    pay_from_mpesa(rig, order["code"], order["amount"] // KES)
    deadline = time.monotonic() + 5
    while not (trans_id := _order_payment(rig, order["id"])):
        assert time.monotonic() < deadline, "no confirmation came"
        time.sleep(0.02)
    request = MerchantPaymentRequest(rig.user_id, None, None, key, channel="ussd",
                                     order_code=order["code"])  # fmt: skip
    merchant_payments.pay(UnitOfWork(rig.database), request, now=after_the_hold())
    nowhere = "http://127.0.0.1:9/nowhere"
    body = reversal_body(rig.sandbox.config, trans_id, order["amount"] // KES, nowhere)
    assert rig.sandbox.post("/mpesa/reversal/v1/request", body).status_code == 200
    rig.until(lambda: _payment_status(rig, trans_id) == "review")
    return trans_id
