"""Source-network allow-lists: /ussd and the AT callbacks answer only AT's networks,
the Daraja callbacks only Safaricom's; behind a proxy, only a trusted proxy's
X-Forwarded-For is believed. A refused request is answered 403 before its body is
read, is logged with its address and path (never its body or token), and changes
nothing - not even the store of inbound callbacks."""

from __future__ import annotations

import asyncio
import logging
import secrets
from ipaddress import ip_network

import httpx
import pytest
from pydantic import SecretStr

from app.api.app import create_app
from tests.security.edges_state import snapshot
from tests.support.wallets import phone_of

AT_NET, SAFARICOM_NET, PROXY_NET = "196.201.214.0/24", "196.201.212.0/24", "10.0.0.0/8"
AT_HOST, SAFARICOM_HOST, PROXY, STRANGER = (
    "196.201.214.5",
    "196.201.212.74",
    "10.0.0.2",
    "203.0.113.9",
)
USSD_TOKEN = secrets.token_urlsafe(32)
HOP = {"sessionId": "net-1", "serviceCode": "*384*123#", "phoneNumber": phone_of(3), "text": ""}


@pytest.fixture
def guarded(settings):
    return settings.model_copy(
        update={
            "at_allowed_networks": [ip_network(AT_NET)],
            "mpesa_allowed_networks": [ip_network(SAFARICOM_NET)],
            "trusted_proxies": [ip_network(PROXY_NET)],
            "ussd_callback_token": SecretStr(USSD_TOKEN),
        }
    )


def call(settings, peer: str, method: str, path: str, **kwargs) -> httpx.Response:
    """One request to the real app (its lifespan run), arriving from `peer`."""
    app = create_app(settings)

    async def go() -> httpx.Response:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, client=(peer, 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://paytrace") as client:
                return await client.request(method, path, **kwargs)

    return asyncio.run(go())


def ussd(settings, peer: str, forwarded: str | None = None) -> httpx.Response:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return call(settings, peer, "POST", f"/ussd/{USSD_TOKEN}", data=HOP, headers=headers)


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"


def test_ussd_from_ats_network_is_served(guarded):
    answer = ussd(guarded, AT_HOST)
    assert answer.status_code == 200 and answer.text.startswith("CON ")


@pytest.mark.parametrize(
    "peer,forwarded",
    [
        (STRANGER, None),
        (STRANGER, AT_HOST),  # a header from an untrusted peer is not believed
        (PROXY, f"{AT_HOST}, {STRANGER}"),  # the right-most untrusted entry is the caller
        (PROXY, None),  # the proxy itself is not AT
        (PROXY, "not-an-address"),
    ],
    ids=["stranger", "forged header", "forged left part", "proxy alone", "junk header"],
)
def test_ussd_from_outside_ats_network_is_refused_and_changes_nothing(
    guarded, clean_database, peer, forwarded
):
    before = snapshot(clean_database, guarded)
    assert_refused(ussd(guarded, peer, forwarded))
    assert snapshot(clean_database, guarded) == before


@pytest.mark.parametrize("forwarded", [AT_HOST, f"{STRANGER}, {AT_HOST}", f"{AT_HOST}, 10.9.9.9"])
def test_ussd_through_a_trusted_proxy_is_served_when_the_caller_is_at(guarded, forwarded):
    answer = ussd(guarded, PROXY, forwarded)
    assert answer.status_code == 200 and answer.text.startswith("CON ")


def test_at_delivery_reports_from_outside_are_refused_before_being_stored(guarded, clean_database):
    before = snapshot(clean_database, guarded)
    report = {"id": "ATXid_1", "status": "Success", "phoneNumber": phone_of(3)}
    assert_refused(call(guarded, STRANGER, "POST", "/callbacks/at/sms-delivery", data=report))
    assert snapshot(clean_database, guarded) == before
    assert (
        call(guarded, AT_HOST, "POST", "/callbacks/at/sms-delivery", data=report).status_code == 200
    )


def test_mpesa_callbacks_answer_safaricoms_network_only(guarded, clean_database, caplog):
    token = guarded.mpesa_callback_token.get_secret_value()
    body = {"Body": {"stkCallback": {"MerchantRequestID": "1", "CheckoutRequestID": "ws_CO_1"}}}
    before = snapshot(clean_database, guarded)
    caplog.set_level(logging.WARNING, logger="paytrace.api")
    for peer in (STRANGER, AT_HOST):  # AT's network is not Safaricom's
        assert_refused(call(guarded, peer, "POST", f"/callbacks/mpesa/stk/{token}", json=body))
    assert snapshot(clean_database, guarded) == before
    refusals = [r for r in caplog.records if "allowed networks" in r.getMessage()]
    assert [r.address for r in refusals] == [STRANGER, AT_HOST]
    assert all(r.path == "/callbacks/mpesa/stk/***" for r in refusals)
    logged = "\n".join(str(r.__dict__) for r in caplog.records)
    assert token not in logged and "ws_CO_1" not in logged
    answer = call(guarded, SAFARICOM_HOST, "POST", f"/callbacks/mpesa/stk/{token}", json=body)
    assert answer.status_code != 403


@pytest.mark.parametrize("kind", ["validation", "confirmation"])
def test_paybill_callbacks_answer_safaricoms_network_only(guarded, clean_database, kind):
    token = guarded.mpesa_callback_token.get_secret_value()
    body = {"TransID": "UKT7ZQ4M2P", "TransAmount": "250.00", "BillRefNumber": "48213575"}
    before = snapshot(clean_database, guarded)
    for peer in (STRANGER, AT_HOST):
        assert_refused(call(guarded, peer, "POST", f"/callbacks/c2b/{kind}/{token}", json=body))
    assert snapshot(clean_database, guarded) == before
    answer = call(guarded, SAFARICOM_HOST, "POST", f"/callbacks/c2b/{kind}/{token}", json=body)
    assert answer.status_code != 403


def test_the_rest_api_and_health_are_not_behind_the_provider_lists(guarded):
    assert call(guarded, STRANGER, "GET", "/health").status_code == 200


def test_empty_lists_allow_every_address(settings):
    answer = call(settings, STRANGER, "POST", "/ussd", data=HOP)
    assert answer.status_code == 200 and answer.text.startswith("CON ")
