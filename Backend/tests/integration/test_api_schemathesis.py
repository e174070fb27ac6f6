"""Schemathesis over the REST API: every /api/v1 operation, fed data generated from
PayTrace's own OpenAPI schema (valid and invalid), answers no 5xx and nothing the
schema does not describe (status code, content type, body).

Over real HTTP against a real server, PostgreSQL and Redis, signed in as a funded
user (and as the operator for /admin), so that generated requests get past
authentication and reach the services. Examples per operation are bounded and
derandomized: CI stays fast and a failure reproduces.
"""

from __future__ import annotations

import itertools
import json
import time
import zlib
from collections.abc import Callable, Iterator
from urllib.parse import urlencode

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core import NOT_SET
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.api.app import create_app
from app.db.unit_of_work import UnitOfWork
from app.services.harambee.campaigns import start_campaign
from app.services.merchant_signatures import HEADER, header_value
from tests.conftest import LiveServer
from tests.support.merchants import Keyed, keyed_merchant
from tests.support.pwa import Pwa
from tests.support.wallets import SHORTCODE, check_ledger, fund, phone_of

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = {GenerationMode.POSITIVE: 25, GenerationMode.NEGATIVE: 15}
PIN = "4821"
KEY_ALPHABET = st.characters(min_codepoint=0x21, max_codepoint=0x7E)
USER, FRIEND = phone_of(1), phone_of(2)


@pytest.fixture
def fuzz_server(live_settings) -> Iterator[tuple[LiveServer, object]]:
    """A server whose rate limits do not hide every answer behind 429 (still documented)."""
    roomy = live_settings.model_copy(
        update={
            "otp_requests_per_phone": 10_000,
            "otp_requests_per_address": 10_000,
            "login_attempts_per_phone": 10_000,
            "login_attempts_per_address": 10_000,
        }
    )
    with LiveServer(create_app(roomy), roomy.port) as server:
        yield server, roomy


def _signed_in(server: LiveServer, settings, database) -> str:
    pwa = Pwa(server.url, settings, database)
    try:
        tokens = pwa.register(USER, "Fuzz Tester", PIN)
        pwa.register(FRIEND, "Fuzz Friend", "5937")
    finally:
        pwa.close()
    fund(database, USER, 5_000_00)
    open_campaign(database)
    return tokens["access_token"]


def open_campaign(database) -> int:
    """Campaign 1, organised by the fuzzing user: the schema's examples name it, so the
    harambee operations reach a real campaign, not only 404s."""
    with UnitOfWork(database) as uow:
        user = uow.users.get_by_phone(USER)
    assert user is not None
    started = start_campaign(
        UnitOfWork(database),
        organiser_user_id=user.id,
        title="Fuzz harambee",
        target_amount=1_000_00,
        key="fuzz",
        shortcode=SHORTCODE,
    )
    return started.campaign.id


Signer = Callable[[object], dict[str, str]]


def merchant_signer(keyed: Keyed) -> Signer:
    """The signing hook for /api/v1/merchant: a PayTrace-Signature over the case as it will
    be sent. Each case gets its own t (within the window), so that equal cases are not
    refused as replays. A JSON body is serialised here, once, and the case carries those
    very bytes (schemathesis sends bytes as they are), so what is signed is what is sent."""
    offsets = itertools.cycle(range(250))

    def sign(case) -> dict[str, str]:
        query = urlencode(case.query or {}, doseq=True)
        path = case.formatted_path + (f"?{query}" if query else "")
        t = int(time.time()) - next(offsets)
        body = b""
        if case.body is not NOT_SET:
            if not isinstance(case.body, bytes):
                case.body = json.dumps(case.body).encode()  # None is sent as `null` too
            body = case.body
        return {HEADER: header_value(keyed.key_id, keyed.secret, t, case.method, path, body)}

    return sign


def _fuzz(
    operation,
    mode: GenerationMode,
    base_url: str,
    headers: dict[str, str],
    seen: set[int],
    signer: Signer | None = None,
) -> None:
    @given(case=operation.as_strategy(generation_mode=mode, headers=headers))
    @hypothesis_settings(
        max_examples=EXAMPLES[mode],
        deadline=None,  # real HTTP and argon2: timing is the benchmarks' business
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: the first failure is enough
        # Narrow schemas (an enum, a 4-digit PIN) make many duplicates; that is fine here.
        suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
    )
    def run(case) -> None:
        if signer is not None:
            case.headers = {**(case.headers or {}), **signer(case)}
        response = case.call_and_validate(base_url=base_url, checks=CHECKS, timeout=30)
        seen.add(response.status_code)

    run()


# The operations are fuzzed in shards, each a test of its own (its own server, database
# and session), so that pytest-xdist spreads them: in one test it was the suite's
# longest (93 s).
SHARDS = 3


def _ends_session(operation) -> bool:
    """Logout ends the session every other operation is signed in with; random old PINs
    lock money-out, so changing the PIN goes just before it."""
    return operation.path == "/api/v1/auth/logout" or operation.path.endswith("/me/pin")


def _shard_of(operation) -> int:
    if _ends_session(operation):
        return SHARDS - 1  # the last shard runs them, last
    return zlib.crc32(operation.label.encode()) % SHARDS


@pytest.mark.parametrize("shard", range(SHARDS))
def test_no_api_operation_answers_5xx_or_off_its_schema(fuzz_server, clean_database, shard):
    database = clean_database
    server, settings = fuzz_server
    access = _signed_in(server, settings, database)
    admin = settings.admin_token.get_secret_value()
    signer = merchant_signer(keyed_merchant(database, settings))
    schema = schemathesis.openapi.from_dict(httpx.get(f"{server.url}/openapi.json").json())
    # USSD, callbacks and sandboxes have their own fuzzing and tests.
    api = [
        op
        for op in (result.ok() for result in schema.get_all_operations())
        if op.path.startswith("/api/v1/")
    ]
    assert len({op.label for op in api}) >= 34, sorted(op.label for op in api)
    mine = [op for op in api if _shard_of(op) == shard]
    # The operator's operations go after the rest (suspending the merchant or revoking
    # its key would leave its own operations nothing but 401), then the session enders.
    mine.sort(
        key=lambda op: (
            _ends_session(op),
            op.path == "/api/v1/auth/logout",
            op.path.startswith("/api/v1/admin/"),
        )
    )
    assert mine, f"shard {shard} has no operation"

    statuses: dict[str, set[int]] = {}
    failures = []
    for operation in mine:
        token = admin if operation.path.startswith("/api/v1/admin/") else access
        headers = {"Authorization": f"Bearer {token}"}
        merchant = operation.path.startswith("/api/v1/merchant/")
        seen = statuses.setdefault(operation.label, set())
        for mode in EXAMPLES:
            try:
                _fuzz(operation, mode, server.url, headers, seen, signer if merchant else None)
            except Unsatisfiable:
                pass  # nothing invalid can be made of it (no parameters, or only a path)
            except Exception as exc:
                failures.append(f"{operation.label} [{mode.value}]: {exc}")

    assert not failures, "\n\n".join(failures)
    # The fuzzing reached the services: every operation answered something besides 401.
    only_401 = sorted(label for label, seen in statuses.items() if not seen - {401})
    assert not only_401, only_401
    assert any(200 <= status < 300 for seen in statuses.values() for status in seen)


def test_transfers_with_any_amount_note_and_key_stay_on_schema_and_move_money_once(
    fuzz_server, database
):
    """Past the PIN and the recipient, into the ledger: amounts, notes and idempotency
    keys (repeated ones included) from hypothesis, every answer checked by Schemathesis."""
    server, settings = fuzz_server
    access = _signed_in(server, settings, database)
    schema = schemathesis.openapi.from_dict(httpx.get(f"{server.url}/openapi.json").json())
    operation = schema["/api/v1/transfers"]["POST"]
    statuses: set[int] = set()

    @given(
        amount=st.integers(min_value=-10, max_value=10**8),
        note=st.none() | st.text(max_size=110),
        key=st.sampled_from(["k1", "k2", "k3"]) | st.text(KEY_ALPHABET, min_size=1, max_size=128),
    )
    @hypothesis_settings(max_examples=60, deadline=None, derandomize=True, database=None)
    def run(amount: int, note: str | None, key: str) -> None:
        body = {"to": FRIEND, "amount": amount, "pin": PIN}
        if note is not None:
            body["note"] = note
        case = operation.Case(
            body=body,
            headers={"Authorization": f"Bearer {access}", "Idempotency-Key": key},
            media_type="application/json",
        )
        statuses.add(
            case.call_and_validate(base_url=server.url, checks=CHECKS, timeout=30).status_code
        )

    run()
    assert 201 in statuses and 409 in statuses and 422 in statuses, statuses
    assert check_ledger(database).sound


def test_contributions_with_any_amount_message_and_key_stay_on_schema_and_move_money_once(
    fuzz_server, database
):
    """Past the PIN and into a campaign's escrow: amounts, messages, anonymity and
    idempotency keys (repeated ones included) from hypothesis, every answer checked by
    Schemathesis; what the campaign shows is its escrow's balance throughout."""
    server, settings = fuzz_server
    access = _signed_in(server, settings, database)
    schema = schemathesis.openapi.from_dict(httpx.get(f"{server.url}/openapi.json").json())
    operation = schema["/api/v1/contributions"]["POST"]
    campaign = schema["/api/v1/campaigns/{campaign_id}"]["GET"]
    headers = {"Authorization": f"Bearer {access}"}
    statuses: set[int] = set()

    @given(
        amount=st.integers(min_value=-10, max_value=10**8),
        message=st.none() | st.text(max_size=110),
        anonymous=st.booleans(),
        key=st.sampled_from(["k1", "k2", "k3"]) | st.text(KEY_ALPHABET, min_size=1, max_size=128),
    )
    @hypothesis_settings(max_examples=60, deadline=None, derandomize=True, database=None)
    def run(amount: int, message: str | None, anonymous: bool, key: str) -> None:
        body = {"campaign_id": 1, "amount": amount, "pin": PIN, "is_anonymous": anonymous}
        if message is not None:
            body["message"] = message
        case = operation.Case(
            body=body, headers={**headers, "Idempotency-Key": key}, media_type="application/json"
        )
        statuses.add(
            case.call_and_validate(base_url=server.url, checks=CHECKS, timeout=30).status_code
        )
        shown = campaign.Case(path_parameters={"campaign_id": 1}, headers=headers)
        answer = shown.call_and_validate(base_url=server.url, checks=CHECKS, timeout=30)
        assert answer.json()["current_amount"] == escrow_balance(database)

    run()
    assert 201 in statuses and 409 in statuses and 422 in statuses, statuses
    assert check_ledger(database).sound


def escrow_balance(database) -> int:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT sum(balance)::bigint FROM ledger_accounts WHERE kind = 'campaign'")
        (balance,) = cur.fetchone()
        conn.rollback()
    return balance
