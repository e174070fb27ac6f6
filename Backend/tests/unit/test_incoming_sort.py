"""How the incoming watcher sorts Horizon's /payments records (the local network has no
path payments, so their records are written out here as Horizon shows them)."""

from __future__ import annotations

from stellar_sdk import Asset, Keypair

from app.services.incoming_payments import NOT_A_WALLET, Known, shorten, sort_payment

ISSUER, TREASURY, WALLET, OUTSIDE = (Keypair.random().public_key for _ in range(4))
KES = Asset("KES", ISSUER)
KNOWN = Known(wallets={WALLET: 7}, own_hashes={"a" * 64})


def record(**fields) -> dict:
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
        "to": WALLET,
        "amount": "12.3400000",
    }
    return base | fields


def sort(rec: dict):
    return sort_payment(rec, KNOWN, asset=KES, treasury=TREASURY, own_accounts=frozenset())


def test_path_payments_credit_what_arrived():
    for kind in ("path_payment_strict_send", "path_payment_strict_receive"):
        rec = record(type=kind, source_asset_type="native", source_amount="99.0000000")
        sorted_ = sort(rec)
        assert sorted_ is not None
        assert (sorted_.reason, sorted_.cents, sorted_.user_id) == (None, 1234, 7)


def test_what_is_none_of_paytraces_business_is_not_recorded():
    assert sort(record(type="create_account")) is None
    assert sort(record(transaction_hash="a" * 64)) is None  # PayTrace's own settlement
    assert sort(record(transaction_successful=False)) is None
    assert sort(record(asset_type="native", to=OUTSIDE)) is None
    assert sort(record(asset_issuer=OUTSIDE, to=OUTSIDE)) is None


def test_reasons():
    assert sort(record(to=OUTSIDE)).reason == NOT_A_WALLET
    fraction = sort(record(amount="0.0000001"))
    assert (fraction.reason, fraction.cents) == ("amount not whole cents: 0.0000001 KES", 1)
    assert sort(record(amount="1.0050000")).cents == 101


def test_addresses_are_shortened_for_sms():
    assert shorten(WALLET) == f"{WALLET[:4]}...{WALLET[-4:]}"
