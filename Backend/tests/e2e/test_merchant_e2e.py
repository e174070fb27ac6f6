"""A merchant's whole life on PayTrace, end to end over real HTTP, as each party drives it:
an operator onboards the shop and issues its key (admin API); the shop signs its requests,
registers a webhook endpoint and creates a pay order (merchant API); Jane pays the order
by its code on USSD, as Africa's Talking sends her hops; the worker delivers the shop's
`order.paid` event, signed with the endpoint's secret; the shop refunds part of it (the
order becomes `partially_refunded`) and pays its balance out to its M-Pesa, confirmed by
M-Pesa's status answer from the local Daraja sandbox. Then the settler runs on PayTrace's
local Stellar network: the ledger checks sound, and every account on-chain holds what the
ledger says."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest

from app.domain import webhooks as webhook_rules
from app.integrations.stellar import Horizon
from app.integrations.webhook_http import HttpWebhookSender
from app.services.custody import SecretBox
from app.worker.webhooks import WebhookDispatcher
from tests.e2e.at_gateway import AtGateway
from tests.support.merchants import Keyed, fresh_timestamp, onboard_body, signed_request
from tests.support.mpesa import mpesa_rig, rows
from tests.support.pwa import Pwa
from tests.support.stellar import books, custody_settings, local_network, prepared_system, settler
from tests.support.wallets import check_ledger
from tests.support.webhooks import receiver

KES = 100
JANE, PIN = "+254711000201", "4821"
TILL = "512345"
PAYOUT_MSISDN = "254711000102"  # onboard_body's payout phone
CONTACT = "+254711000101"  # onboard_body's contact phone
PRICE = 2_500 * KES
FEE = 1_250  # the shop's fee: 0.5 % of KES 2,500 (onboard_body's rule: 50 bps, no minimum)
REFUNDED = 500 * KES


@pytest.fixture
def rig(live_settings, clean_database, tmp_path):
    """PayTrace with custody on the local Stellar network and M-Pesa on the Daraja sandbox."""
    with local_network(tmp_path / "net", close_interval_s=0.05) as net:
        settings = custody_settings(live_settings, net.url, stellar_channels=4)
        with mpesa_rig(settings, clean_database, tmp_path) as rig:
            yield rig


class Shop:
    """The merchant's side: every request signed with its key, every POST keyed."""

    def __init__(self, base_url: str, keyed: Keyed) -> None:
        self.keyed = keyed
        self.http = httpx.Client(base_url=base_url, timeout=10)

    def post(self, path: str, body: dict) -> httpx.Response:
        raw = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex}
        t = fresh_timestamp(self.keyed.key_id, "POST", path, raw)
        return signed_request(self.http, self.keyed, "POST", path, raw, timestamp=t,
                              headers=headers)  # fmt: skip

    def get(self, path: str) -> dict:
        t = fresh_timestamp(self.keyed.key_id, "GET", path)
        answer = signed_request(self.http, self.keyed, "GET", path, timestamp=t)
        assert answer.status_code == 200, answer.text
        return answer.json()


def onboarded(rig) -> Keyed:
    """The operator's part: the merchant and its first key, over the admin API."""
    token = rig.settings.admin_token.get_secret_value()
    with httpx.Client(
        base_url=rig.paytrace.url + "/api/v1/admin",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    ) as admin:
        made = admin.post("/merchants", json=onboard_body(TILL, payout_schedule="on_request"))
        assert made.status_code == 201, made.text
        merchant = made.json()
        key = admin.post(f"/merchants/{merchant['id']}/keys")
        assert key.status_code == 201, key.text
    return Keyed(merchant["id"], key.json()["key_id"], key.json()["secret"])


def deliver_webhooks(rig) -> None:
    """The worker's webhook loop, until nothing is due."""
    dispatcher = WebhookDispatcher(
        rig.database,
        SecretBox.from_settings(rig.settings),
        HttpWebhookSender(timeout_s=5, production=False),
        timeout_s=5,
        batch_size=20,
        concurrency=1,
    )
    while dispatcher.run_once():
        pass


def test_onboard_order_ussd_payment_webhook_partial_refund_payout_and_equal_books(rig):
    system = prepared_system(rig.settings)
    pwa = Pwa(rig.paytrace.url, rig.settings, rig.database)
    shop = Shop(rig.paytrace.url, onboarded(rig))

    with receiver(lambda _n: 200) as hooks:
        endpoint = shop.post("/api/v1/merchant/webhook-endpoints", {"url": hooks.url})
        assert endpoint.status_code == 201, endpoint.text
        endpoint_secret = endpoint.json()["secret"]

        pwa.register(JANE, "Jane Wanjiku", PIN)
        pwa.deliver_sms()  # her wallet is activated on-chain
        token = rig.settings.admin_token.get_secret_value()
        cashed = httpx.post(
            f"{rig.paytrace.url}/api/v1/admin/cash-in",
            json={"phone": JANE, "amount": 5_000 * KES, "reference": "agent-1"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert cashed.status_code == 201, cashed.text

        created = shop.post(
            "/api/v1/merchant/orders", {"amount": PRICE, "description": "School shoes"}
        )
        assert created.status_code == 201, created.text
        order = created.json()

        phone = AtGateway(rig.paytrace.url, JANE)
        assert phone.dial().startswith("CON PayTrace - Hi Jane")
        phone.send("5")
        assert phone.send(order["code"]).startswith(
            "CON Pay MAMA MBOGA KES 2,500 for School shoes. Fee KES 0."
        )
        paid = phone.send(PIN)
        assert paid.startswith("END Paid KES 2,500 to MAMA MBOGA for School shoes. Ref ")
        assert phone.hop() == paid  # Africa's Talking's retry of the PIN hop pays nothing more

        deliver_webhooks(rig)
        events = [r.event for r in hooks.received]
        assert [e["type"] for e in events] == ["order.paid"]
        (sent,) = hooks.received
        # The shop checks the signature with its endpoint's secret before believing it.
        assert webhook_rules.verify(
            endpoint_secret, sent.headers["paytrace-signature"], sent.body, int(time.time())
        )
        assert events[0]["data"]["id"] == order["id"]
        assert events[0]["data"]["status"] == "paid"

        (payment,) = shop.get("/api/v1/merchant/payments")["payments"]
        assert (payment["amount"], payment["fee"], payment["channel"]) == (PRICE, FEE, "ussd")
        refund = shop.post(
            "/api/v1/merchant/refunds",
            {"payment": payment["reference"], "amount": REFUNDED, "reason": "One shoe too small"},
        )
        assert refund.status_code == 201, refund.text
        assert refund.json()["status"] == "succeeded"
        order_now = shop.get(f"/api/v1/merchant/orders/{order['id']}")
        assert (order_now["status"], order_now["refunded_amount"]) == (
            "partially_refunded",
            REFUNDED,
        )

        held = shop.get("/api/v1/merchant/me")["balance"]
        assert held == PRICE - FEE - REFUNDED
        payout = shop.post("/api/v1/merchant/payouts", {"amount": "all"})
        assert payout.status_code == 201, payout.text
        payout_id = payout.json()["id"]
        done = rig.until(
            lambda: (
                (shown := shop.get(f"/api/v1/merchant/payouts/{payout_id}"))["status"] == "paid"
                and shown
            )
        )
        assert done["mpesa_receipt"]
        # "All": the most whole shillings whose B2C fee fits beside them; cents stay.
        left = shop.get("/api/v1/merchant/me")["balance"]
        assert left == held - done["amount"] - done["fee"] and 0 <= left < KES

        deliver_webhooks(rig)
        assert [r.event["type"] for r in hooks.received] == [
            "order.paid",
            "order.partially_refunded",
            "refund.succeeded",
            "payout.paid",
        ]

    # What each person's phone says.
    pwa.deliver_sms()
    jane_sms = pwa.inbox(JANE)
    assert any("Paid KES 2,500 to MAMA MBOGA" in text for text in jane_sms), jane_sms
    assert any("refund" in text.lower() and "KES 500" in text for text in jane_sms), jane_sms
    assert any("payout" in text.lower() for text in rig.sms(CONTACT, about="payout"))

    # The books: sound, and on-chain equal to the ledger once the settler is quiet.
    assert check_ledger(rig.database).sound
    settler(rig.settings, rig.database, system).settle_all()
    ledger, on_chain = books(rig.database, Horizon(rig.settings.stellar_horizon_url), system)
    assert on_chain == ledger
    paid_out = rows(
        rig.database, "SELECT amount FROM mpesa_withdrawals WHERE merchant_id = %(m)s",
        m=shop.keyed.merchant_id,
    )  # fmt: skip
    assert paid_out == [(done["amount"],)]
