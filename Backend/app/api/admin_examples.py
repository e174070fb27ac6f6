"""Examples shown in the admin API's OpenAPI schema (/docs). Amounts in cents."""

from __future__ import annotations

WHEN = "2026-03-02T09:15:04.512+00:00"

USER = {
    "paytrace_id": "PT48213377",
    "phone": "+254712345678",
    "full_name": "Achieng Otieno",
    "language": "en",
    "role": "worker",
    "kyc_tier": 1,
    "stellar_address": "GDZHKN3LJE47Y6XEXIDJXDSTFC2DUMWVCXFPATOUWS6GD6IWPFG3SBEU",
    "activation_status": "active",
    "created_at": WHEN,
    "balance": 150000,
    "pin": {"failed_attempts": 0, "locked_until": None, "locked": False},
}

CASH_IN_REQUEST = {"phone": "0712345678", "amount": 50000, "reference": "AGENT7-000123"}

CASH_IN = {
    "transaction_id": 42,
    "reference": "QK7R2M9XTB",
    "kind": "cash_in",
    "phone": "+254712345678",
    "amount": 50000,
    "fee": 0,
    "created_at": WHEN,
    "balance": 200000,
    "replayed": False,
}

REVERSE_REQUEST = {"reason": "sent to the wrong number, ticket 1182"}

TRANSACTION = {
    "transaction_id": 43,
    "reference": "ZP4M8K2WQA",
    "kind": "transfer",
    "amount": 100000,
    "fee": 1000,
    "channel": "ussd",
    "note": None,
    "reverses": None,
    "reversed_by": None,
    "created_at": WHEN,
    "legs": [
        {
            "account_id": 4,
            "account_kind": "wallet",
            "account_code": None,
            "phone": "+254712345678",
            "full_name": "Achieng Otieno",
            "amount": -101000,
            "balance_after": 99000,
        },
        {
            "account_id": 5,
            "account_kind": "wallet",
            "account_code": None,
            "phone": "+254722000111",
            "full_name": "Baraka Mwangi",
            "amount": 100000,
            "balance_after": 100000,
        },
        {
            "account_id": 1,
            "account_kind": "fees",
            "account_code": "fees:3",
            "phone": None,
            "full_name": None,
            "amount": 1000,
            "balance_after": 1000,
        },
    ],
}

REVERSAL = {
    "transaction_id": 44,
    "reference": "HB3T7N2RKD",
    "kind": "reversal",
    "amount": 100000,
    "fee": 1000,
    "channel": "admin",
    "note": "sent to the wrong number, ticket 1182",
    "reverses": 43,
    "reversed_by": None,
    "created_at": WHEN,
    "legs": [
        {
            "account_id": 4,
            "account_kind": "wallet",
            "account_code": None,
            "phone": "+254712345678",
            "full_name": "Achieng Otieno",
            "amount": 101000,
            "balance_after": 200000,
        },
        {
            "account_id": 5,
            "account_kind": "wallet",
            "account_code": None,
            "phone": "+254722000111",
            "full_name": "Baraka Mwangi",
            "amount": -100000,
            "balance_after": 0,
        },
        {
            "account_id": 1,
            "account_kind": "fees",
            "account_code": "fees:3",
            "phone": None,
            "full_name": None,
            "amount": -1000,
            "balance_after": 0,
        },
    ],
    "replayed": False,
}

UNLOCK = {"unlocked": True}
