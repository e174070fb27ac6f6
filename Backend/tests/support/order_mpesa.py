"""A merchant, its pay orders and PayTrace's paybill registered with the local Daraja
sandbox, for the tests of orders paid from M-Pesa (C2B) over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.db.pool import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.merchants import FeeRule
from app.domain.pay_orders import PAYMENT_HOLD
from app.errors import OrderNotPayable
from app.integrations.daraja import DarajaClient
from app.services import merchants, orders
from app.services.merchant_payments import payments as merchant_payments
from app.services.merchant_payments.payments import MerchantPaymentRequest
from app.services.mpesa.order_payments import register_paybill
from app.services.mpesa.order_returns import OWED_BACK
from tests.support.merchants import application
from tests.support.mpesa import MpesaRig, one, rows

RULE = FeeRule(50, 100, 20_000)
AMOUNT = 250_00  # KES 250
FEE = RULE.fee_for(AMOUNT)
MERCHANT_PHONE = "+254711000101"
CUSTOMER = "254712000777"


def onboard(database: Database):
    return merchants.onboard(UnitOfWork(database), application("512345", fee=RULE)).merchant


def register(rig: MpesaRig) -> None:
    settings = rig.settings
    daraja = DarajaClient.from_settings(settings)
    try:
        register_paybill(
            daraja,
            callback_base=settings.mpesa_callback_base,
            token=settings.mpesa_callback_token.get_secret_value(),
        )
    finally:
        daraja.close()


def new_order(
    database: Database, merchant_id: int, key: str = "o1", *, created_at: datetime | None = None
) -> dict:
    """A KES 250 order, awaiting payment for 15 minutes from created_at (now)."""
    draft = orders.Draft(amount=AMOUNT, merchant_reference="INV-42", description="Sukuma wiki")
    now = created_at or datetime.now(UTC)
    answer = orders.create(UnitOfWork(database), merchant_id, key, draft, now)
    assert answer.status == 201
    return answer.body


def pay_from_mpesa(rig: MpesaRig, code: str, kes: int, phone: str = CUSTOMER) -> None:
    answer = rig.sandbox.simulate_c2b(phone, kes, code)
    assert answer.status_code == 200, answer.text


def order_status(database: Database, order_id: int) -> str:
    return one(database, "SELECT status FROM pay_orders WHERE id = %(i)s", i=order_id)[0]


def order_payments(database: Database) -> list[tuple]:
    """(trans_id, bill_ref, amount, status, order_id, transaction_id) of every row."""
    return rows(
        database,
        "SELECT trans_id, bill_ref, amount, status, order_id, transaction_id"
        " FROM mpesa_order_payments ORDER BY id",
    )


def balance_of(database: Database, account_id: int) -> int:
    return one(database, "SELECT balance FROM ledger_accounts WHERE id = %(i)s", i=account_id)[0]


def merchant_holds(database: Database, merchant_id: int) -> int:
    """What the merchant holds: the sum of its accounts (migration 0062)."""
    return one(
        database,
        "SELECT coalesce(sum(a.balance), 0) FROM merchant_accounts m"
        " JOIN ledger_accounts a ON a.id = m.account_id WHERE m.merchant_id = %(m)s",
        m=merchant_id,
    )[0]


def float_balance(database: Database) -> int:
    return one(database, "SELECT balance FROM ledger_accounts WHERE code = 'mpesa_float'")[0]


def owed_back(database: Database) -> int:
    """What PayTrace owes M-Pesa payers back (payments an order could not take)."""
    return one(database, "SELECT balance FROM ledger_accounts WHERE code = %(c)s", c=OWED_BACK)[0]


def pay_from_wallet(rig: MpesaRig, payer: int, code: str, now: datetime | None = None) -> object:
    """The payer's wallet pays the order (as USSD does), or the refusal."""
    request = MerchantPaymentRequest(payer, None, None, "w1", channel="ussd", order_code=code)
    try:
        return merchant_payments.pay(UnitOfWork(rig.database), request, now=now)
    except OrderNotPayable as exc:
        return exc


def after_the_hold() -> datetime:
    """A moment past an M-Pesa payment's hold on its order (a wallet payer then pays)."""
    return datetime.now(UTC) + PAYMENT_HOLD + timedelta(seconds=1)


def c2b_body(code: str, kes: int, trans_id: str, shortcode: str, phone: str = CUSTOMER) -> dict:
    """A C2B confirmation (or validation) body, shaped as Daraja sends it."""
    return {
        "TransactionType": "Pay Bill",
        "TransID": trans_id,
        "TransTime": "20261204120000",
        "TransAmount": f"{kes}.00",
        "BusinessShortCode": shortcode,
        "BillRefNumber": code,
        "InvoiceNumber": "",
        "OrgAccountBalance": "",
        "ThirdPartyTransID": "",
        "MSISDN": phone,
        "FirstName": "Wanjiru",
        "MiddleName": "",
        "LastName": "Kamau",
    }
