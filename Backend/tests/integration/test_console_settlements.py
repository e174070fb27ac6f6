"""Parked settlements in the console, over real HTTP: listed with the network's
refusal, retried by an operator (back to pending, audited with the retry's commit), a
retry the network does not allow yet refused and shown. The envelopes are parked as
test_admin_settlements.py parks them; the retry asks PayTrace's local Stellar network."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from app.config import Settings
from tests.integration.test_admin_settlements import park, row, send
from tests.integration.test_console_tables import audited, console_as
from tests.support.console import csrf_of
from tests.support.wallets import fund, phone_of, register, registration_secrets

ALICE, BOB = phone_of(1), phone_of(2)


@pytest.fixture
def live_settings(live_settings: Settings, horizon_url: str) -> Settings:
    return live_settings.model_copy(update={"stellar_horizon_url": horizon_url})


@pytest.fixture
def alice(live_settings, clean_database) -> int:
    box, pin_hash = registration_secrets(live_settings)
    alice = register(clean_database, box, pin_hash, phone=ALICE, name="Alice Wanjiru")
    register(clean_database, box, pin_hash, phone=BOB, name="Bob Otieno")
    fund(clean_database, ALICE, 500_000)
    return alice


@pytest.fixture
def operator(live_server, live_settings, clean_database) -> Iterator[httpx.Client]:
    client = console_as(live_server, live_settings, clean_database, "operator")
    yield client
    client.close()


def test_an_operator_retries_a_parked_settlement(operator, alice, clean_database):
    moved = send(clean_database, alice, BOB, 100_000, "t1")
    park(clean_database, moved, "op_no_trust")

    page = operator.get("/console/settlements")
    assert page.status_code == 200
    assert "op_no_trust" in page.text and f"/console/settlements/{moved}/retry" in page.text
    csrf = csrf_of(page.text)
    done = operator.post(f"/console/settlements/{moved}/retry", data={"csrf": csrf})
    assert done.status_code == 200 and "pending again" in done.text
    assert row(clean_database, moved)[0] == "pending"
    assert f"/console/settlements/{moved}/retry" not in done.text  # no longer parked
    pending = operator.get("/console/settlements", params={"status": "pending"})
    assert f'href="/console/transactions/{moved}"' in pending.text
    [(actor, kind, target, _, outcome, detail)] = audited(
        clean_database, "console_retry_settlement"
    )
    assert (actor, kind, target, outcome) == ("operator:1", "transaction", str(moved), "done")
    assert detail["committed_with_action"] is True


def test_a_retry_the_network_could_still_apply_is_refused(operator, alice, clean_database):
    moved = send(clean_database, alice, BOB, 100_000, "t-live")
    park(clean_database, moved, "tx_bad_auth", live_for_s=120)
    csrf = csrf_of(operator.get("/console/settlements").text)
    answer = operator.post(f"/console/settlements/{moved}/retry", data={"csrf": csrf})
    assert answer.status_code == 409 and "could still be applied" in answer.text
    assert row(clean_database, moved)[0] == "failed"
    [(_, _, _, _, outcome, detail)] = audited(clean_database, "console_retry_settlement")
    assert (outcome, detail["error"]) == ("refused", "not_retryable")
