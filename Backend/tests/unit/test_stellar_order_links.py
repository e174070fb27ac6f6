"""Paying a pay order from any Stellar wallet, the pure parts: the SEP-7 link a merchant
is given (read back by stellar-sdk's own SEP-7 parser, as a wallet would), the muxed
address (SEP-23), the exact amount, and which order a payment Horizon reports names."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from stellar_sdk import Asset, IdMemo, Keypair, MuxedAccount, TextMemo
from stellar_sdk.sep.stellar_uri import PayStellarUri

from app.domain import pay_orders as rules
from app.integrations.stellar import cents_to_amount, to_stroops
from app.services.incoming_payments import TO_TREASURY, Known, sort_payment
from app.services.stellar_order_links import (
    OrderNamed,
    StellarPayee,
    muxed_address,
    order_named,
    pay_details,
    pay_uri,
)

ISSUER, TREASURY, OUTSIDE, CHANNEL = (Keypair.random().public_key for _ in range(4))
PAYEE = StellarPayee(TREASURY, "KES", ISSUER)
ORDER = {
    "id": 42,
    "code": "48213575",
    "amount": 25_000,
    "description": "Sukuma wiki & tomatoes",
}


def test_the_sep7_link_reads_back_in_stellar_sdk_as_the_order_to_pay():
    uri = pay_uri(PAYEE, ORDER["code"], ORDER["amount"], ORDER["description"])

    parsed = PayStellarUri.from_uri(uri)

    assert uri.startswith(f"web+stellar:pay?destination={TREASURY}&amount=250.00&")
    assert parsed.destination == TREASURY
    assert parsed.amount == "250.00"
    assert (parsed.asset_code, parsed.asset_issuer) == ("KES", ISSUER)
    assert parsed.memo_type == "MEMO_TEXT" and parsed.memo == "48213575"
    assert parsed.msg == "PayTrace order 48213575: Sukuma wiki & tomatoes"


def test_the_sep7_link_is_percent_encoded_as_sep7_asks():
    uri = pay_uri(PAYEE, ORDER["code"], ORDER["amount"], ORDER["description"])
    query = urlsplit(uri).query

    # RFC 3986 encoding: a space is %20 (never '+'), '&' and ':' inside a value escaped,
    # so no value can break the query apart.
    assert "msg=PayTrace%20order%2048213575%3A%20Sukuma%20wiki%20%26%20tomatoes" in query
    assert "+" not in query
    assert dict(parse_qsl(query)) == {
        "destination": TREASURY,
        "amount": "250.00",
        "asset_code": "KES",
        "asset_issuer": ISSUER,
        "memo": "48213575",
        "memo_type": "MEMO_TEXT",
        "msg": "PayTrace order 48213575: Sukuma wiki & tomatoes",
    }


def test_an_order_without_a_description_is_named_by_its_code():
    parsed = PayStellarUri.from_uri(pay_uri(PAYEE, "48213575", 1, None))
    assert parsed.msg == "PayTrace order 48213575"
    assert parsed.amount == "0.01"


@pytest.mark.parametrize(
    ("cents", "amount"),
    [
        (1, "0.01"),
        (99, "0.99"),
        (100, "1.00"),
        (25_000, "250.00"),
        (rules.MAX_AMOUNT, "100000000.00"),
    ],
)
def test_the_amount_is_the_orders_exactly_in_stellar_decimals(cents, amount):
    assert cents_to_amount(cents) == amount
    # Back to stroops without a float: 1 cent is 100,000 stroops.
    assert to_stroops(amount) == cents * 100_000


def test_the_muxed_address_is_the_treasury_with_the_order_id():
    muxed = muxed_address(PAYEE, 42)

    account = MuxedAccount.from_account(muxed)

    assert muxed.startswith("M")
    assert (account.account_id, account.account_muxed_id) == (TREASURY, 42)


def test_the_stellar_block_of_an_order():
    details = pay_details(PAYEE, ORDER)

    assert details is not None
    assert details["destination"] == TREASURY
    assert (details["memo_type"], details["memo"]) == ("text", "48213575")
    assert details["muxed_destination"] == muxed_address(PAYEE, 42)
    assert (details["asset_code"], details["asset_issuer"]) == ("KES", ISSUER)
    assert details["amount"] == "250.00"
    assert PayStellarUri.from_uri(details["uri"]).memo == "48213575"
    assert pay_details(None, ORDER) is None  # no Stellar network configured


# ---- which order a payment names -------------------------------------------------------


def payment(**fields) -> dict:
    base = {
        "id": "4294971393",
        "paging_token": "4294971393",
        "transaction_successful": True,
        "type": "payment",
        "transaction_hash": "b" * 64,
        "asset_type": "credit_alphanum4",
        "asset_code": "KES",
        "asset_issuer": ISSUER,
        "from": OUTSIDE,
        "to": TREASURY,
        "amount": "250.0000000",
        "transaction": {"memo_type": "text", "memo": "48213575"},
    }
    return base | fields


def memo(memo_type: str, value: str | None = None) -> dict:
    return {"memo_type": memo_type} | ({} if value is None else {"memo": value})


def test_a_memo_or_a_mux_id_names_an_order():
    assert order_named(payment()) == OrderNamed(code="48213575")
    assert order_named(payment(transaction=memo("text", " 48213575 "))) == OrderNamed(
        code="48213575"
    )
    assert order_named(payment(transaction=memo("id", "48213575"))) == OrderNamed(code="48213575")
    # A mistyped code is still a code: its check digit is judged when it is taken.
    assert order_named(payment(transaction=memo("text", "48213576"))) == OrderNamed(code="48213576")
    # The mux id names the order by id, whatever the memo says.
    assert order_named(payment(to_muxed="M...", to_muxed_id="42")) == OrderNamed(order_id=42)


def test_other_memos_name_no_order():
    for other in (
        memo("none"),
        memo("text", "hello"),
        memo("text", "4821357"),
        memo("text", "482135750"),
        memo("text", "٤٨٢١٣٥٧٥"),  # digits, but not ASCII ones
        memo("hash", "YWJj"),
        memo("id", "7"),
    ):
        assert order_named(payment(transaction=other)) is None
    no_join = payment()
    del no_join["transaction"]
    assert order_named(no_join) is None


def sort(rec: dict, own: frozenset[str] = frozenset()):
    known = Known(wallets={}, own_hashes=set())
    return sort_payment(rec, known, asset=Asset("KES", ISSUER), treasury=TREASURY, own_accounts=own)


def test_the_watcher_sorts_a_payment_naming_an_order_to_be_taken():
    taken = sort(payment())
    assert taken is not None
    assert (taken.order, taken.reason, taken.cents) == (OrderNamed(code="48213575"), None, 25_000)

    fraction = sort(payment(amount="250.0000001"))
    assert fraction is not None and fraction.order == OrderNamed(code="48213575")
    assert fraction.reason == "amount not whole cents: 250.0000001 KES"  # owed back

    plain = sort(payment(transaction=memo("none")))
    assert plain is not None and (plain.order, plain.reason) == (None, TO_TREASURY)
    xlm = sort(payment(asset_type="native", asset_code=None, asset_issuer=None))
    assert xlm is not None and xlm.order is None and xlm.reason.startswith("not our asset")
    own = sort(payment(**{"from": CHANNEL}), own=frozenset([CHANNEL]))
    assert own is not None and own.order is None


def test_memo_objects_from_the_sdk_match_what_horizon_shows():
    # What a wallet builds from the link is what the watcher matches.
    assert TextMemo("48213575").memo_text.decode() == "48213575"
    assert str(IdMemo(48213575).memo_id) == "48213575"
