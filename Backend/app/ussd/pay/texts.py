"""The Pay menu's words, per language (merged into app.ussd.texts.TEXTS).

GSM-7 only; a screen with the navigation footer fits 182 characters with the longest
values (a 20-character merchant name, a 7-digit till: tests/unit/test_ussd_screen_limits.py).
"""

from __future__ import annotations

PAY_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "pay.till": "Pay a merchant\nEnter the till number",
        "pay.amount": "Pay {name} (till {till})\nEnter amount in KES",
        "pay.confirm": (
            "Pay {name} (till {till}) KES {amount}. Fee KES {fee}.\nEnter PIN to confirm"
        ),
        "err.till_invalid": "A till number is 5 to 7 digits.",
        "err.till_unknown": "No merchant has that till number.",
        "err.till_closed": "That merchant is not taking payments now.",
        "end.paid": (
            "Paid KES {amount} to {name} (till {till}). Ref {reference}. New balance KES {balance}."
        ),
        "end.not_paid": "Not paid. {reason}",
        "statement.merchant_payment": "Till pay",
    },
    "sw": {
        "pay.till": "Lipa mfanyabiashara\nWeka nambari ya till",
        "pay.amount": "Lipa {name} (till {till})\nWeka kiasi cha KES",
        "pay.confirm": (
            "Lipa {name} (till {till}) KES {amount}. Ada KES {fee}.\nWeka PIN kuthibitisha"
        ),
        "err.till_invalid": "Nambari ya till ni tarakimu 5 hadi 7.",
        "err.till_unknown": "Hakuna mfanyabiashara mwenye till hiyo.",
        "err.till_closed": "Mfanyabiashara huyo hapokei malipo sasa.",
        "end.paid": (
            "Umelipa KES {amount} kwa {name} (till {till}). Kumb. {reference}. "
            "Salio jipya KES {balance}."
        ),
        "end.not_paid": "Hujalipa. {reason}",
        "statement.merchant_payment": "Lipa till",
    },
}
