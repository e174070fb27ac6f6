"""Paying a pay order from any Stellar wallet: what the merchant API tells a payer (the
address, the memo, the muxed address, the SEP-7 link) and, the other way round, which
order a payment Horizon reports names.

A merchant's money is held by the treasury on Stellar (docs/merchants.md), so an order
is paid to the treasury's address: with the order's code as a text memo, or to the
treasury's muxed address (SEP-23) whose id is the order's id. No address of its own per
order, nothing to create or fund: the memo or the mux id tells the incoming watcher
which order a payment is for (services/stellar_order_payments.py takes it).

Pure functions over plain values (and stellar-sdk's own SEP-7 and SEP-23 builders), so
the link and the matching are unit-tested on their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr
from stellar_sdk import Asset, Keypair, MuxedAccount, TextMemo
from stellar_sdk.sep.stellar_uri import PayStellarUri

from app.config import Settings
from app.domain import pay_orders as rules
from app.integrations.stellar import cents_to_amount
from app.services.custody import SecretBox, SystemAccounts

MEMO_TYPE = "text"  # what the merchant API names; SEP-7 spells it MEMO_TEXT


@dataclass(frozen=True, slots=True)
class StellarPayee:
    """Where orders are paid on Stellar: the treasury's address and PayTrace's KES asset.
    Public values only (no seed is kept)."""

    address: str  # G...: the treasury
    asset_code: str
    asset_issuer: str

    @property
    def asset(self) -> Asset:
        return Asset(self.asset_code, self.asset_issuer)


def payee_from_settings(settings: Settings) -> StellarPayee | None:
    """The payee of this deployment's network, or None when no Stellar network is
    configured (orders are then paid on PayTrace's own channels only). Opens the
    treasury's and the issuer's seeds once, only to read their public addresses (kept;
    the seeds are not): the settings hold no address beside the seed, so the two can
    never disagree. Raises ValueError (a seed not set), UndecryptableSecret."""
    if not settings.custody_enabled:
        return None
    box = SecretBox.from_settings(settings)
    treasury, issuer = (
        _public_key(box, getattr(settings, f"stellar_{name}_secret"), name)
        for name in ("treasury", "issuer")
    )
    return StellarPayee(treasury, settings.stellar_asset_code, issuer)


def _public_key(box: SecretBox, token: SecretStr | None, name: str) -> str:
    if token is None:
        raise ValueError(f"STELLAR_{name.upper()}_SECRET is not set")
    return Keypair.from_secret(box.decrypt(token.get_secret_value())).public_key


def payee_of(system: SystemAccounts) -> StellarPayee:
    assert system.asset.issuer is not None  # PayTrace's KES is never the native asset
    return StellarPayee(system.treasury.public_key, system.asset.code, system.asset.issuer)


def muxed_address(payee: StellarPayee, order_id: int) -> str:
    """The treasury's muxed address (M...) whose id is the order's (SEP-23)."""
    return MuxedAccount(payee.address, order_id).account_muxed or payee.address


def pay_message(code: str, description: str | None) -> str:
    """What a wallet shows beside the payment (SEP-7 `msg`, at most 300 characters)."""
    named = f": {description}" if description else ""
    return f"PayTrace order {code}{named}"


def pay_uri(payee: StellarPayee, code: str, amount: int, description: str | None) -> str:
    """The order's SEP-7 `web+stellar:pay` link: the treasury, the exact amount in KES,
    the code as a text memo, percent-encoded by stellar-sdk (RFC 3986: a space is %20)."""
    return PayStellarUri(
        destination=payee.address,
        amount=cents_to_amount(amount),
        asset=payee.asset,
        memo=TextMemo(code),
        message=pay_message(code, description),
    ).to_uri()


def pay_details(payee: StellarPayee | None, order: Mapping[str, Any]) -> dict[str, str] | None:
    """The `stellar` block of an order's snapshot (app/domain/records/pay_orders.py) on
    the merchant API, or None without a network. The same in every state: only an order
    awaiting payment is paid, anything else sent is owed back."""
    if payee is None:
        return None
    code, amount = str(order["code"]), int(order["amount"])
    return {
        "destination": payee.address,
        "memo_type": MEMO_TYPE,
        "memo": code,
        "muxed_destination": muxed_address(payee, int(order["id"])),
        "asset_code": payee.asset_code,
        "asset_issuer": payee.asset_issuer,
        "amount": cents_to_amount(amount),
        "uri": pay_uri(payee, code, amount, order.get("description")),
    }


# ---- which order a payment names ------------------------------------------------------


def shorten(address: str) -> str:
    """GABC...WXYZ: enough of a Stellar address to recognise it in an SMS."""
    return f"{address[:4]}...{address[-4:]}"


@dataclass(frozen=True, slots=True)
class OrderNamed:
    """The order a payment to the treasury names: by mux id (the order's id) or by its
    memo (what the payer typed, meant to be the code; it may be mistyped)."""

    order_id: int | None = None
    code: str | None = None

    def __str__(self) -> str:
        return f"order id {self.order_id}" if self.order_id is not None else f"code {self.code}"


def order_named(record: dict) -> OrderNamed | None:
    """The order a Horizon payment record (joined with its transaction) names, or None
    when it names none: a mux id on the destination first (SEP-23: it names the
    recipient, a memo is then redundant), else a memo of 8 digits (text, or an id memo
    some wallets send for a number). Other memos are not an order's: such a payment to
    the treasury stays an operator's matter, as before orders existed."""
    muxed_id = record.get("to_muxed_id")
    if muxed_id is not None and str(muxed_id).isdigit():
        return OrderNamed(order_id=int(muxed_id))
    transaction = record.get("transaction") or {}
    if transaction.get("memo_type") not in ("text", "id"):
        return None
    memo = str(transaction.get("memo", "")).strip()
    if len(memo) == rules.CODE_LENGTH and memo.isascii() and memo.isdigit():
        return OrderNamed(code=memo)
    return None
