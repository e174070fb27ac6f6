"""Billers and their account rules, pure: what a bill payment checks before any money
moves. The rules and billers themselves are data (migration 0024: bill_account_rules,
billers); this module only reads them.

An account rule is 'digits' (a meter, smartcard or account number: min..max digits,
spaces and dashes as typed on a bill are dropped) or 'phone' (a Kenyan mobile; for an
airtime biller, on the biller's network: AT tops up whatever network the number is on,
so a Safaricom top-up typed against an Airtel number is refused before it is paid).
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from phonenumbers import carrier

from app.domain.money import CENTS_PER_SHILLING
from app.domain.phone import InvalidPhone, normalise

# A bill payment's states and steps (schema.sql: bill_payments_guard holds the same).
HELD, DELIVERED, FAILED, UNKNOWN = "held", "delivered", "failed", "unknown"
# A delivered bill the biller refunded, reversed by an operator (services/bills/reversals).
REVERSED = "reversed"
OPEN_STATES = (HELD, UNKNOWN)
STEPS = frozenset(
    {(HELD, DELIVERED), (HELD, FAILED), (HELD, UNKNOWN), (UNKNOWN, DELIVERED), (UNKNOWN, FAILED)}
    | {(DELIVERED, REVERSED)}
)
# Rails a biller is paid through (docs/bills.md); Daraja B2B is open only where M-Pesa
# is on (Settings.bill_rails).
AT_AIRTIME, DARAJA_B2B = "at_airtime", "daraja_b2b"
BUILT_RAILS = (AT_AIRTIME, DARAJA_B2B)
# The clearing account each rail's delivered bills are owed to.
CLEARING_CODES = {AT_AIRTIME: "bill_clearing:at_airtime", DARAJA_B2B: "bill_clearing:daraja_b2b"}
# The longest biller name a screen shows (schema.sql: billers.name's CHECK).
NAME_MAX = 20
# How phonenumbers names Kenya's networks (the prefix they were issued under).
_NETWORK_NAMES = {"Safaricom": "safaricom", "Airtel": "airtel", "Telkom": "telkom"}


@dataclass(frozen=True)
class AccountRule:
    name: str
    kind: str  # digits | phone
    label: str  # 'Meter number'
    min_length: int | None = None
    max_length: int | None = None


@dataclass(frozen=True)
class Biller:
    id: int
    code: str
    name: str
    category: str  # electricity | water | tv | airtime
    rule: AccountRule
    min_amount: int  # cents
    max_amount: int  # cents
    fee_kind: str  # the fee_bands kind of its fee
    rail: str  # at_airtime | daraja_b2b
    paybill: str | None
    network: str | None
    active: bool


class AccountRefused(ValueError):
    """The reason is one of: 'not_digits', 'wrong_length', 'not_a_phone',
    'not_on_network'."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def network_of(phone_e164: str) -> str | None:
    """The Kenyan network a mobile number was issued by, or None."""
    name = carrier.name_for_number(phonenumbers.parse(phone_e164), "en")
    return _NETWORK_NAMES.get(name)


def check_account(biller: Biller, raw: str) -> str:
    """The account as stored and sent to the rail (digits, or an E.164 phone); raises
    AccountRefused."""
    rule = biller.rule
    if rule.kind == "phone":
        try:
            phone = normalise(raw)
        except InvalidPhone:
            raise AccountRefused("not_a_phone") from None
        if not phone.startswith("+254") or network_of(phone) is None:
            raise AccountRefused("not_a_phone")
        if biller.network is not None and network_of(phone) != biller.network:
            raise AccountRefused("not_on_network")
        return phone
    account = raw.strip().replace(" ", "").replace("-", "")
    if not account.isascii() or not account.isdigit():
        raise AccountRefused("not_digits")
    assert rule.min_length is not None and rule.max_length is not None  # the table's CHECK
    if not rule.min_length <= len(account) <= rule.max_length:
        raise AccountRefused("wrong_length")
    return account


def amount_fits(biller: Biller, amount: int) -> bool:
    """Whole shillings within the biller's minimum and maximum."""
    return amount % CENTS_PER_SHILLING == 0 and biller.min_amount <= amount <= biller.max_amount
