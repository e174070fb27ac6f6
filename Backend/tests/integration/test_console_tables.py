"""The console's tables that act, over real HTTP: find a transaction by reference, phone
or PayTrace ID, read it, reverse it behind a confirmation (the reversal and its audit
row commit together); the callback log; merchants, their suspension and the
redelivery of a webhook event. Parked settlements: test_console_settlements.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr

from app.db.unit_of_work import UnitOfWork
from app.integrations.webhook_http import SendResult
from app.services import transfers, webhook_delivery, webhooks
from app.services.custody import SecretBox
from app.services.transfers import TransferRequest
from tests.conftest import LiveServer
from tests.support.console import PASSWORD, csrf_of, make_operator, sign_in
from tests.support.merchants import keyed_merchant
from tests.support.wallets import fund, phone_of, register, registration_secrets

ALICE, BOB = phone_of(1), phone_of(2)
MPESA_TOKEN = "mpesa-callback-token-1"


@pytest.fixture
def live_settings(live_settings):
    """With M-Pesa's callback token set: the callback log shows it matched, and masked."""
    return live_settings.model_copy(update={"mpesa_callback_token": SecretStr(MPESA_TOKEN)})


@pytest.fixture
def people(live_settings, clean_database) -> tuple[int, int]:
    box, pin_hash = registration_secrets(live_settings)
    alice = register(clean_database, box, pin_hash, phone=ALICE, name="Alice Wanjiru")
    bob = register(clean_database, box, pin_hash, phone=BOB, name="Bob Otieno")
    return alice, bob


def console_as(server: LiveServer, settings, database, role: str) -> httpx.Client:
    who = make_operator(settings, database, role, f"{role}@paytrace.test")
    client = httpx.Client(base_url=server.url, timeout=10, follow_redirects=True)
    assert sign_in(client, who.email, PASSWORD, who.code()).status_code == 200  # followed
    return client


@pytest.fixture
def operator(live_server, live_settings, clean_database) -> Iterator[httpx.Client]:
    client = console_as(live_server, live_settings, clean_database, "operator")
    yield client
    client.close()


def query(database, sql: str, params: dict | None = None) -> list[tuple]:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(sql, params or {})
        rows = cur.fetchall()
        conn.rollback()
    return rows


def audited(database, action: str) -> list[tuple]:
    return query(
        database,
        "SELECT actor, target_kind, target_id, reason, outcome, detail FROM admin_audit"
        " WHERE action = %(a)s ORDER BY id",
        {"a": action},
    )


def send(database, sender: int, to: str, amount: int, key: str) -> int:
    moved = transfers.transfer(
        UnitOfWork(database),
        TransferRequest(
            sender_user_id=sender, recipient_phone=to, amount=amount, idempotency_key=key
        ),
    )
    return moved.transaction_id


def balance_of(database, phone: str) -> int:
    [(balance,)] = query(
        database,
        "SELECT a.balance FROM ledger_accounts a JOIN users u ON u.id = a.user_id"
        " WHERE u.phone = %(p)s",
        {"p": phone},
    )
    return balance


# ---- transactions -----------------------------------------------------------------------


def test_a_transaction_is_found_by_reference_phone_or_paytrace_id(operator, people, clean_database):
    alice, _ = people
    fund(clean_database, ALICE, 500_000)
    moved = send(clean_database, alice, BOB, 120_000, "t1")
    [(reference, paytrace_id)] = query(
        clean_database,
        "SELECT t.reference, u.paytrace_id FROM journal_transactions t, users u"
        " WHERE t.id = %(t)s AND u.phone = %(p)s",
        {"t": moved, "p": ALICE},
    )
    by_reference = operator.get("/console/transactions", params={"q": reference.lower()})
    assert by_reference.status_code == 200
    assert f'href="/console/transactions/{moved}"' in by_reference.text
    for q in ("0711000001", paytrace_id):
        found = operator.get("/console/transactions", params={"q": q})
        assert f"/console/transactions/{moved}" in found.text, q
        assert "cash_in" in found.text  # her deposit too
    nothing = operator.get("/console/transactions", params={"q": "ZZZZZZZZZZ"})
    assert "No transaction matches" in nothing.text

    detail = operator.get(f"/console/transactions/{moved}")
    assert detail.status_code == 200
    assert "KES 1,200" in detail.text and "transfer" in detail.text
    assert "Alice Wanjiru" in detail.text and "Bob Otieno" in detail.text  # the legs
    settlement = detail.text.split('data-field="settlement">')[1].split("</dd>")[0]
    assert settlement.strip() == "pending"  # waiting for the settler
    assert f'href="/console/transactions/{moved}/reverse"' in detail.text
    assert operator.get("/console/transactions/999999").status_code == 404


def test_a_reversal_needs_its_confirmation_and_a_reason_and_is_audited_with_it(
    operator, people, clean_database
):
    alice, _ = people
    fund(clean_database, ALICE, 500_000)
    moved = send(clean_database, alice, BOB, 120_000, "t1")
    alice_before, bob_before = balance_of(clean_database, ALICE), balance_of(clean_database, BOB)

    confirm = operator.get(f"/console/transactions/{moved}/reverse")
    assert confirm.status_code == 200 and "Confirm reversal" in confirm.text
    csrf = csrf_of(confirm.text)
    path = f"/console/transactions/{moved}/reverse"
    unconfirmed = operator.post(path, data={"csrf": csrf, "reason": "wrong number"})
    assert unconfirmed.status_code == 422 and "not_confirmed" in unconfirmed.text
    no_reason = operator.post(path, data={"csrf": csrf, "confirm": "yes"})
    assert no_reason.status_code == 422 and "invalid_reason" in no_reason.text
    assert balance_of(clean_database, BOB) == bob_before  # nothing moved yet

    done = operator.post(
        path, data={"csrf": csrf, "confirm": "yes", "reason": "sent to the wrong number"}
    )
    assert done.status_code == 200 and "Reversed" in done.text
    reversal = int(re.search(r"/console/transactions/(\d+)\?reversed=yes", str(done.url))[1])
    assert f'href="/console/transactions/{moved}"' in done.text  # "Reverses #..."
    assert balance_of(clean_database, BOB) == bob_before - 120_000
    assert balance_of(clean_database, ALICE) > alice_before
    [(kind, reverses, note)] = query(
        clean_database,
        "SELECT kind, reverses_id, note FROM journal_transactions WHERE id = %(t)s",
        {"t": reversal},
    )
    assert (kind, reverses, note) == ("reversal", moved, "sent to the wrong number")
    rows = [row for row in audited(clean_database, "console_reverse_transaction")]
    assert [row[4] for row in rows] == ["refused", "refused", "done"]
    actor, target_kind, target, reason, _, detail = rows[-1]
    assert (actor, target_kind, target) == ("operator:1", "transaction", str(moved))
    assert reason == "sent to the wrong number"
    # Written by the reversal's own commit: the money and its row, or neither.
    assert detail["committed_with_action"] is True

    # Reversed once: the page offers no second one, and posting again replays the first.
    assert "Reverse…" not in operator.get(f"/console/transactions/{moved}").text
    again = operator.post(path, data={"csrf": csrf, "confirm": "yes", "reason": "again"})
    assert again.status_code == 200 and f"/console/transactions/{reversal}" in str(again.url)
    assert query(
        clean_database, "SELECT count(*) FROM journal_transactions WHERE kind = 'reversal'"
    ) == [(1,)]


def test_a_reversal_the_ledger_refuses_is_shown_and_audited_refused(
    operator, people, clean_database
):
    alice, bob = people
    fund(clean_database, ALICE, 500_000)
    moved = send(clean_database, alice, BOB, 120_000, "t1")
    send(clean_database, bob, ALICE, 100_000, "t2")  # Bob no longer holds it all
    csrf = csrf_of(operator.get(f"/console/transactions/{moved}/reverse").text)
    answer = operator.post(
        f"/console/transactions/{moved}/reverse",
        data={"csrf": csrf, "confirm": "yes", "reason": "disputed"},
    )
    assert answer.status_code == 422 and "insufficient_funds" in answer.text
    [row] = audited(clean_database, "console_reverse_transaction")
    assert row[4] == "refused" and row[5]["error"] == "insufficient_funds"


# ---- the callback log -------------------------------------------------------------------


def test_the_callback_log_shows_payload_verification_and_outcome_by_provider(
    operator, live_server, live_settings
):
    token = MPESA_TOKEN
    httpx.post(f"{live_server.url}/callbacks/mpesa/b2c/result/{token}", content=b"{oops")
    httpx.post(f"{live_server.url}/callbacks/mpesa/b2c/result/guessed-token-123456", content=b"{}")
    httpx.post(f"{live_server.url}/callbacks/at/sms-delivery/x", data={"id": "ATXid_9"})

    page = operator.get("/console/callbacks")
    assert page.status_code == 200
    assert "/callbacks/mpesa/b2c/result/***" in page.text
    assert "token_matched" in page.text and "token_mismatch" in page.text
    assert "malformed" in page.text and "rejected" in page.text
    assert "{oops" in page.text
    assert token not in page.text and "guessed-token" not in page.text  # masked
    mpesa = operator.get("/console/callbacks", params={"provider": "mpesa"})
    assert "sms_delivery" not in mpesa.text and "b2c_result" in mpesa.text
    rejected = operator.get("/console/callbacks", params={"outcome": "rejected", "provider": ""})
    assert "token_mismatch" in rejected.text and "token_matched" not in rejected.text
    named = operator.get("/console/callbacks", params={"reference": "ATXid_9"})
    assert named.status_code == 200 and "b2c_result" not in named.text
    assert operator.get("/console/callbacks", params={"provider": "x"}).status_code == 422


# ---- merchants --------------------------------------------------------------------------


def test_merchants_are_listed_and_a_merchants_page_shows_its_keys_never_secrets(
    operator, live_settings, clean_database
):
    shop = keyed_merchant(clean_database, live_settings)
    listed = operator.get("/console/merchants")
    assert listed.status_code == 200 and "MAMA MBOGA" in listed.text and "512345" in listed.text
    page = operator.get(f"/console/merchants/{shop.merchant_id}")
    assert page.status_code == 200
    assert shop.key_id in page.text and shop.secret not in page.text
    assert "50 bps (0.50%)" in page.text  # the fee rule
    assert "No payments." in page.text and "No endpoints." in page.text
    assert "Suspend" not in page.text  # an admin's action, not offered to an operator
    assert operator.get("/console/merchants/999999").status_code == 404


def test_an_admin_suspends_and_reactivates_a_merchant(live_server, live_settings, clean_database):
    shop = keyed_merchant(clean_database, live_settings)
    admin = console_as(live_server, live_settings, clean_database, "admin")
    try:
        page = admin.get(f"/console/merchants/{shop.merchant_id}")
        csrf = csrf_of(page.text)
        done = admin.post(f"/console/merchants/{shop.merchant_id}/suspend", data={"csrf": csrf})
        assert done.status_code == 200 and "Suspended" in done.text
        status = query(
            clean_database, "SELECT status FROM merchants WHERE id = %(m)s", {"m": shop.merchant_id}
        )
        assert status == [("suspended",)]
        back = admin.post(f"/console/merchants/{shop.merchant_id}/reactivate", data={"csrf": csrf})
        assert back.status_code == 200 and "Reactivated" in back.text
    finally:
        admin.close()
    rows = audited(clean_database, "console_suspend_merchant")
    [(actor, kind, target, _, outcome, detail)] = rows
    assert (actor, kind, target, outcome) == (
        "operator:1",
        "merchant",
        str(shop.merchant_id),
        "done",
    )
    assert detail["committed_with_action"] is True
    assert audited(clean_database, "console_reactivate_merchant")[0][4] == "done"


def test_an_operator_reads_the_deliveries_and_redelivers_an_event(
    operator, live_settings, clean_database
):
    shop = keyed_merchant(clean_database, live_settings)
    box = SecretBox.from_settings(live_settings)
    webhooks.create_endpoint(
        UnitOfWork(clean_database),
        box,
        shop.merchant_id,
        "http://127.0.0.1:9/hooks",
        "k1",
        production=False,
    )
    uow = UnitOfWork(clean_database)
    with uow:
        event = webhooks.emit(uow, shop.merchant_id, "ping", {"object": "ping", "id": "p1"})
        uow.commit()
    # One attempt, as the worker's dispatcher records it: the endpoint answered 503.
    now = datetime.now(UTC)
    [claimed] = webhook_delivery.claim_due(
        UnitOfWork(clean_database), box, now=now, limit=5, lease=timedelta(seconds=30)
    )
    webhook_delivery.record_outcome(
        UnitOfWork(clean_database), claimed.claimed, SendResult(503, 87, None), now
    )

    page = operator.get(f"/console/merchants/{shop.merchant_id}")
    assert event.public_id in page.text and "http://127.0.0.1:9/hooks" in page.text
    assert 'data-status="failed"' in page.text and "503 87 ms" in page.text
    csrf = csrf_of(page.text)
    done = operator.post(
        f"/console/merchants/{shop.merchant_id}/events/{event.public_id}/redeliver",
        data={"csrf": csrf},
    )
    assert done.status_code == 200 and "queued again" in done.text
    assert 'data-status="pending"' in done.text
    [(outcome, target, detail)] = [
        (row[4], row[2], row[5]) for row in audited(clean_database, "console_redeliver_event")
    ]
    assert (outcome, target) == ("done", str(shop.merchant_id))
    assert detail["event"] == event.public_id and detail["committed_with_action"] is True
    missing = operator.post(
        f"/console/merchants/{shop.merchant_id}/events/evt_{'0' * 24}/redeliver",
        data={"csrf": csrf},
    )
    assert missing.status_code == 404
