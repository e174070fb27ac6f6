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
    "pin": {
        "failed_attempts": 0,
        "locked_until": None,
        "locked": False,
        "lock_count": 0,
        "reset_required": False,
    },
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

SETTLEMENT = {
    "status": "settled",
    "origin": "paytrace",
    "stellar_tx_hash": "3389e9f0f1a65f19736cacf544c2e825313e8447f569233bb8db39aa607c8889",
    "ledger": 52718,
    "last_error": None,
    "envelope_hash": "3389e9f0f1a65f19736cacf544c2e825313e8447f569233bb8db39aa607c8889",
    "settled_at": "2026-03-02T09:15:05.731+00:00",
}

PARKED_SETTLEMENT = {
    "status": "failed",
    "origin": "paytrace",
    "stellar_tx_hash": None,
    "ledger": None,
    "last_error": "op_no_trust",
    "envelope_hash": "a1f3c0d9e2b8476a5c1d0e9f8b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b",
    "settled_at": None,
    "transaction_id": 43,
    "reference": "ZP4M8K2WQA",
    "kind": "transfer",
    "amount": 100000,
    "fee": 1000,
    "created_at": WHEN,
}

SETTLEMENT_PAGE = {"items": [PARKED_SETTLEMENT], "next_cursor": "czo0Mw"}

SETTLEMENT_RETRY = {
    **PARKED_SETTLEMENT,
    "status": "pending",
    "envelope_hash": None,
    "retried": True,
}

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
    "settlement": SETTLEMENT,
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
    "settlement": {
        "status": "pending",
        "origin": "paytrace",
        "stellar_tx_hash": None,
        "ledger": None,
        "last_error": None,
        "envelope_hash": None,
        "settled_at": None,
    },
    "replayed": False,
}

UNLOCK = {"unlocked": True}

RECONCILIATION = {
    "id": 12,
    "started_at": WHEN,
    "finished_at": "2026-03-02T09:15:06.034+00:00",
    "accounts": 3,
    "drifts": 1,
    "sound": False,
    "treasury": {
        "party": 0,
        "kind": "treasury",
        "address": "GCKFBEIYTKP6RCZNVPH73XL7XFWTEOAO7MRR7K7ZQ3ZZ2BZNHQ3VVUE5",
        "ledger_balance": 1000,
        "unsettled_effect": 0,
        "unsettled_movements": 0,
        "expected_on_chain": 1000,
        "actual_on_chain": 1000,
        "drift": 0,
        "problem": None,
        "unsettled": [],
    },
    "drifting": [
        {
            "party": 4,
            "kind": "wallet",
            "address": "GDZHKN3LJE47Y6XEXIDJXDSTFC2DUMWVCXFPATOUWS6GD6IWPFG3SBEU",
            "ledger_balance": 99000,
            "unsettled_effect": 0,
            "unsettled_movements": 0,
            "expected_on_chain": 99000,
            "actual_on_chain": 99100,
            "drift": 100,
            "problem": None,
            "unsettled": [],
        }
    ],
    "explained": [
        {
            "party": 5,
            "kind": "wallet",
            "address": "GBRPYHIL2CI3FNQ4BXLFMNDLFJUNPU2HY3ZMFSHONUCEOASW7QC7OX2H",
            "ledger_balance": 150000,
            "unsettled_effect": 50000,
            "unsettled_movements": 1,
            "expected_on_chain": 100000,
            "actual_on_chain": 100000,
            "drift": 0,
            "problem": None,
            "unsettled": [
                {
                    "transaction_id": 44,
                    "reference": "HB3T7N2RKD",
                    "kind": "cash_in",
                    "status": "pending",
                    "effect": 50000,
                }
            ],
        }
    ],
    "explained_count": 1,
    "awaiting_activation": {
        "wallets": 2,
        "with_balance": 1,
        "balance": 20000,
        "listed": [
            {
                "party": 6,
                "address": "GAHK7EEG2WWHVKDNT4CEQFZGKF2LGDSW2IVM4S5DP42RBW3K6BTODB4A",
                "activation_status": "pending",
                "ledger_balance": 20000,
            }
        ],
    },
    "totals": {
        "on_chain_held": 200100,
        "issuer_side_ledger": 270000,
        "difference": 69900,
        "unsettled_effect": 50000,
        "awaiting_activation_balance": 20000,
    },
    "rechecked": 1,
}
