"""Test data for M-Pesa reconciliation, made the way users make it: deposits and
withdrawals through PayTrace's own service functions, paid (or not) by the local Daraja
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
from pathlib import Path

from app.db.unit_of_work import UnitOfWork
from app.integrations.mpesa_statement import SandboxStatement
from app.sandboxes.daraja.store import DB_FILE
from app.services.mpesa.deposits import DepositRequest, request_deposit
from app.services.mpesa.withdrawals import WithdrawalRequest, withdraw
from app.services.pins import PinHasher, PinPolicy
from tests.support.mpesa import MpesaRig, mpesa_rig, one
from tests.support.wallets import fund, phone_of, register, registration_secrets

KES = 100
JANE = phone_of(1)
MSISDN = JANE.removeprefix("+")
PIN = "4821"


@contextmanager
def recon_rig(live_settings, database, tmp_path: Path) -> Iterator[MpesaRig]:
    """The M-Pesa rig with Jane registered and KES 10,000 in her wallet; `rig.statement`
    reads the sandbox's statement, `rig.sandbox_db` is the sandbox's SQLite file."""
    with mpesa_rig(live_settings, database, tmp_path) as rig:
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
