"""M-Pesa at PayTrace's edge, with no database: shillings and MSISDNs, Daraja's callback
bodies read by name, the adapter's token and failure kinds (over httpx's mock
transport), and what the outbox handlers decide from each answer (FakeDaraja)."""

from __future__ import annotations

import base64
import contextlib
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.db.repositories.outbox import OutboxRow
from app.domain import mpesa
from app.domain.phone import InvalidPhone
from app.integrations.daraja import (
    DarajaClient,
    DarajaConfig,
    DarajaError,
    Failure,
    stk_password,
)
from app.integrations.daraja_fake import FakeDaraja
from app.integrations.daraja_payloads import (
    MalformedPayload,
    Verdict,
    parse_b2c_result,
    parse_status_result,
    parse_stk_callback,
    read_json,
)
from app.worker.handlers import Verdict as RowVerdict
from app.worker.mpesa_handlers import B2CHandler, CallbackLinks, StkPushHandler

# ---- money and numbers -----------------------------------------------------------------


def test_cents_cross_the_edge_only_as_whole_shillings():
    assert mpesa.shillings(150_000) == 1_500
    for bad in (150_050, 1.5, True, "100"):
        with pytest.raises(mpesa.NotWholeShillings):
            mpesa.shillings(bad)
    assert mpesa.cents_from_shillings(100) == 10_000
    assert mpesa.cents_from_shillings("250.00") == 25_000
    assert mpesa.cents_from_shillings(99.0) == 9_900
    for bad in ("12.5", 12.5, "abc", None, True, "NaN", "inf"):
        with pytest.raises(mpesa.NotWholeShillings):
            mpesa.cents_from_shillings(bad)


def test_phone_numbers_are_msisdns_at_the_edge_and_masked_ones_still_match():
    assert mpesa.msisdn("+254712345678") == "254712345678"
    with pytest.raises(InvalidPhone):
        mpesa.msisdn("+14155550100")
    assert mpesa.same_phone(254712345678, "+254712345678")
    assert mpesa.same_phone("0712345678", "+254712345678")
    assert mpesa.same_phone("2547****5678", "+254712345678")
    assert not mpesa.same_phone("2547****5679", "+254712345678")
    assert not mpesa.same_phone(None, "+254712345678")
    assert not mpesa.same_phone("254799999999", "+254712345678")


def test_failure_codes_have_plain_reasons():
    assert [mpesa.failure_reason(c) for c in ("1032", "1037", "2001", "1", "17")] == [
        "cancelled",
        "timeout",
        "wrong_pin",
        "insufficient_funds",
        "other",
    ]


# ---- callback bodies ------------------------------------------------------------------------


def test_an_stk_callback_is_read_by_item_name_not_position():
    items = [
        {"Name": "PhoneNumber", "Value": 254712345678},
        {"Name": "Balance"},
        {"Name": "MpesaReceiptNumber", "Value": "UKTOBXP8DO"},
        {"Name": "Amount", "Value": 100},
    ]
    body = {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": "m-1",
                "CheckoutRequestID": "ws_CO_1",
                "ResultCode": 0,
                "ResultDesc": "ok",
                "CallbackMetadata": {"Item": items},
            }
        }
    }
    outcome = parse_stk_callback(body)
    assert (outcome.amount, outcome.receipt, outcome.phone) == (
        10_000,
        "UKTOBXP8DO",
        "254712345678",
    )
    assert outcome.paid and outcome.checkout_request_id == "ws_CO_1"


@pytest.mark.parametrize(
    "raw",
    [b"nope", b"[]", b'{"Body": 1}', b'{"Body": {"stkCallback": {"ResultCode": 0}}}'],
)
def test_what_daraja_never_sends_is_malformed(raw):
    with pytest.raises(MalformedPayload):
        parse_stk_callback(read_json(raw))


def test_b2c_results_paid_failed_and_queue_timeout():
    def result(code, result_type=0, params=None):
        body = {
            "ResultType": result_type,
            "ResultCode": code,
            "ResultDesc": "d",
            "OriginatorConversationID": "o-1",
            "ConversationID": "AG_1",
            "TransactionID": "UKT0000000",
        }
        if params is not None:
            body["ResultParameters"] = {"ResultParameter": params}
        return {"Result": body}

    paid = parse_b2c_result(
        result(
            0,
            params=[
                {"Key": "TransactionReceipt", "Value": "UKT3Q8XSZ1"},
                {"Key": "TransactionAmount", "Value": 500},
            ],
        )
    )
    assert (paid.verdict, paid.amount, paid.receipt) == (Verdict.PAID, 50_000, "UKT3Q8XSZ1")
    assert parse_b2c_result(result(2001)).verdict is Verdict.FAILED
    assert parse_b2c_result(result(1037, result_type=1)).verdict is Verdict.UNKNOWN
    assert parse_b2c_result(result(0), queue_timeout=True).verdict is Verdict.UNKNOWN
    # A lone parameter comes as an object, not a list.
    lone = result(0, params={"Key": "TransactionAmount", "Value": 10})
    assert parse_b2c_result(lone).amount == 1_000


def test_status_answers_found_failed_not_found_and_inconclusive():
    def answer(code, status=None):
        body = {
            "ResultType": 0,
            "ResultCode": code,
            "ResultDesc": "d",
            "OriginatorConversationID": "q-1",
            "ConversationID": "AG_query",
            "TransactionID": "UKT0000000",
            "ReferenceData": {"ReferenceItem": {"Key": "Occasion", "Value": "K7QX2M9PLA"}},
        }
        if status:
            body["ResultParameters"] = {
                "ResultParameter": [
                    {"Key": "TransactionStatus", "Value": status},
                    {"Key": "Originator Conversation ID", "Value": "o-1"},
                    {"Key": "Amount", "Value": 500},
                    {"Key": "ReceiptNo", "Value": "UKT3Q8XSZ1"},
                ]
            }
        return {"Result": body}

    found = parse_status_result(answer(0, "Completed"))
    assert (found.verdict, found.originator_conversation_id) == (Verdict.PAID, "o-1")
    assert (found.amount, found.receipt) == (50_000, "UKT3Q8XSZ1")
    # Matched by the query's own ids only; its Occasion is not even read.
    assert (found.query_conversation_id, found.query_originator_id) == ("AG_query", "q-1")
    assert not hasattr(found, "occasion")
    assert found.query_conversation_id == "AG_query"
    assert parse_status_result(answer(0, "Failed")).verdict is Verdict.FAILED
    assert parse_status_result(answer("R000002")).verdict is Verdict.NOT_FOUND
    assert parse_status_result(answer(2001)).verdict is Verdict.UNKNOWN  # the query failed


# ---- the adapter, over a mock transport ----------------------------------------------------

CONFIG = DarajaConfig(
    base_url="https://daraja.test",
    consumer_key="key",
    consumer_secret="secret",
    shortcode="174379",
    passkey="pass",
    b2c_shortcode="600000",
    initiator_name="init",
    security_credential="cred",
)


class Daraja:
    """Answers like Daraja; counts tokens issued; `answers` scripts the API's replies."""

    def __init__(self) -> None:
        self.tokens = 0
        self.requests: list[httpx.Request] = []
        self.answers: list[httpx.Response] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/oauth/v1/generate":
            self.tokens += 1
            return httpx.Response(
                200, json={"access_token": f"t{self.tokens}", "expires_in": "3599"}
            )
        if self.answers:
            return self.answers.pop(0)
        return httpx.Response(
            200,
            json={
                "MerchantRequestID": "m",
                "CheckoutRequestID": "ws_CO_1",
                "ResponseCode": "0",
            },
        )


def client(daraja: Daraja, now: list[float]) -> DarajaClient:
    return DarajaClient(CONFIG, clock=lambda: now[0], transport=httpx.MockTransport(daraja))


def push(api: DarajaClient):
    return api.stk_push(
        phone="254712345678",
        amount=10,
        reference="K7QX2M9PLA",
        description="Deposit",
        callback_url="https://paytrace.test/cb",
    )


def test_the_token_is_cached_until_it_expires_and_the_password_is_right():
    daraja, now = Daraja(), [1_764_000_000.0]
    api = client(daraja, now)
    push(api)
    push(api)
    assert daraja.tokens == 1
    now[0] += 3600
    push(api)
    assert daraja.tokens == 2
    body = json.loads(daraja.requests[-1].content)
    assert body["Password"] == stk_password("174379", "pass", body["Timestamp"])
    assert base64.b64decode(body["Password"]).decode().startswith("174379pass")
    assert daraja.requests[-1].headers["Authorization"] == "Bearer t2"


def test_a_refused_token_is_renewed_once_and_the_request_sent_again():
    daraja, now = Daraja(), [1_764_000_000.0]
    daraja.answers = [httpx.Response(401, json={"errorCode": "404.001.03"})]
    assert push(client(daraja, now)).checkout_request_id == "ws_CO_1"
    assert daraja.tokens == 2


WRONG_CREDENTIALS = {"errorCode": "500.001.1001", "errorMessage": "Wrong credentials"}


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (httpx.Response(400, json={"errorCode": "400.002.02", "errorMessage": "Bad"}), "permanent"),
        (httpx.Response(500, json=WRONG_CREDENTIALS), "permanent"),
        (httpx.Response(503, text="busy"), "retryable"),
        (httpx.Response(502, text="bad gateway"), "ambiguous"),
        (httpx.Response(200, text="<html>"), "ambiguous"),
        (httpx.Response(200, json={"ResponseCode": "1", "ResponseDescription": "no"}), "permanent"),
    ],
)  # fmt: skip
def test_every_answer_maps_to_what_is_safe_next(answer, kind):
    daraja, now = Daraja(), [1_764_000_000.0]
    daraja.answers = [answer]
    with pytest.raises(DarajaError) as raised:
        push(client(daraja, now))
    assert raised.value.kind == Failure(kind)


def test_a_connection_never_made_is_retryable_and_a_timeout_ambiguous():
    def refuse(request):
        raise httpx.ConnectError("refused", request=request)

    def hang(request):
        if request.url.path == "/oauth/v1/generate":
            return httpx.Response(200, json={"access_token": "t", "expires_in": "3599"})
        raise httpx.ReadTimeout("slow", request=request)

    for transport, kind in ((refuse, Failure.RETRYABLE), (hang, Failure.AMBIGUOUS)):
        api = DarajaClient(CONFIG, transport=httpx.MockTransport(transport))
        with pytest.raises(DarajaError) as raised:
            push(api)
        assert raised.value.kind is kind


# ---- the outbox handlers -------------------------------------------------------------------

LINKS = CallbackLinks("https://paytrace.test", "tok")


def row(kind: str, payload: dict, attempts: int = 1) -> OutboxRow:
    return OutboxRow(1, kind, payload, attempts, "k", "sending", datetime.now(UTC), None)


def b2c_row(attempts: int = 1) -> OutboxRow:
    payload = {
        "withdrawal": "K7QX2M9PLA",
        "originator_conversation_id": "o-1",
        "phone": "254712345678",
        "amount": 500,
    }
    return row("mpesa_b2c", payload, attempts)


def test_callback_urls_carry_the_token_in_their_path():
    assert (
        LINKS.stk("K7QX2M9PLA")
        == "https://paytrace.test/callbacks/mpesa/stk/tok?deposit=K7QX2M9PLA"
    )
    assert LINKS.b2c_timeout == "https://paytrace.test/callbacks/mpesa/b2c/timeout/tok"
    assert LINKS.status_result == "https://paytrace.test/callbacks/mpesa/status/result/tok"


@pytest.mark.parametrize(
    "unclear",
    [
        DarajaError(Failure.AMBIGUOUS, "no answer: ReadTimeout"),
        DarajaError(Failure.AMBIGUOUS, "System is busy", status=500, code="500.003.02"),
        DarajaError(Failure.RETRYABLE, "Service Unavailable", status=503),
    ],
)
def test_a_b2c_whose_answer_was_unclear_is_unknown_never_resent(unclear):
    daraja = FakeDaraja()
    handler = B2CHandler(daraja, LINKS, result_wait_s=300)
    daraja.fail("b2c", unclear)
    assert handler.perform(b2c_row()).verdict is RowVerdict.UNKNOWN
    assert B2CHandler.resumable is False  # a worker dying mid-call leaves it unknown too


def test_a_b2c_that_never_reached_m_pesa_is_sent_again_and_a_duplicate_means_it_has_it():
    daraja = FakeDaraja()
    handler = B2CHandler(daraja, LINKS, result_wait_s=300)
    daraja.fail("b2c", DarajaError(Failure.RETRYABLE, "not connected: ConnectError"))
    assert handler.perform(b2c_row()).verdict is RowVerdict.RETRY
    assert handler.perform(b2c_row(2)).verdict is RowVerdict.DONE
    again = handler.perform(b2c_row(3))  # the same OriginatorConversationID once more
    assert again.verdict is RowVerdict.DONE and "already with M-Pesa" in again.error
    assert [kwargs["originator_conversation_id"] for _, kwargs in daraja.calls] == ["o-1"] * 3


def test_only_a_refusal_of_the_first_b2c_request_proves_m_pesa_never_took_it():
    refusal = DarajaError(Failure.PERMANENT, "Bad Request - Invalid PartyA", status=400)
    daraja = FakeDaraja()
    daraja.fail("b2c", refusal, refusal)
    handler = B2CHandler(daraja, LINKS, result_wait_s=300)
    first = handler.perform(b2c_row(1))
    later = handler.perform(b2c_row(2))
    assert (first.verdict, first.result) == (RowVerdict.FAILED, "refused")
    assert (later.verdict, later.result) == (RowVerdict.FAILED, None)


def test_an_stk_push_is_never_resent_blind_and_never_made_late():
    daraja = FakeDaraja()
    handler = StkPushHandler(daraja, LINKS, query_after_s=180)
    fresh = {
        "deposit": "K7QX2M9PLA",
        "phone": "254712345678",
        "amount": 100,
        "requested_at": datetime.now(UTC).isoformat(),
    }
    daraja.fail("stk_push", DarajaError(Failure.AMBIGUOUS, "read timeout"))
    assert handler.perform(row("mpesa_stk", fresh)).verdict is RowVerdict.UNKNOWN
    assert StkPushHandler.resumable is False and B2CHandler.resumable is False
    stale = {**fresh, "requested_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat()}
    assert handler.perform(row("mpesa_stk", stale)).verdict is RowVerdict.FAILED
    assert daraja.apis() == ["stk_push"]  # the late one never reached Daraja
    done = handler.perform(row("mpesa_stk", fresh))
    assert done.verdict is RowVerdict.DONE
    assert daraja.calls[-1][1]["callback_url"].endswith("?deposit=K7QX2M9PLA")


# ---- any body at all -------------------------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=20,
)
_RESULT_KEYS = [
    "ResultCode",
    "ResultType",
    "OriginatorConversationID",
    "ResultParameters",
    "ReferenceData",
    "ConversationID",
    "ResultDesc",
]
_stk = st.fixed_dictionaries({"stkCallback": st.dictionaries(st.text(max_size=20), _json)})
_shaped = st.fixed_dictionaries(
    {"Body": _stk, "Result": st.dictionaries(st.sampled_from(_RESULT_KEYS), _json)}
)


@settings(max_examples=300, deadline=None)
@given(body=st.one_of(_json, _shaped))
def test_any_json_body_is_read_or_refused_as_malformed_never_an_error(body):
    for parse in (parse_stk_callback, parse_b2c_result, parse_status_result):
        with contextlib.suppress(MalformedPayload):
            parse(body) if isinstance(body, dict) else read_json(json.dumps(body).encode())
