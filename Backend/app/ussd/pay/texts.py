"""The Pay menu's words, per language (merged into app.ussd.texts.TEXTS).

GSM-7 only; a screen with the navigation footer fits 182 characters with the longest
values (a 20-character merchant name, a 7-digit till, a 40-character order description:
tests/unit/test_ussd_screen_limits.py).
"""

from __future__ import annotations

PAY_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "pay.till": "Pay a merchant\nEnter till number or order code\n1. Bills / Airtime",
        "pay.amount": "Pay {name} (till {till})\nEnter amount in KES",
        "pay.confirm": (
            "Pay {name} (till {till}) KES {amount}. Fee KES {fee}.\nEnter PIN to confirm"
        ),
        "pay.confirm_order": (
            "Pay {name} KES {amount} for {label}. Fee KES {fee}.\nEnter PIN to confirm"
        ),
        "pay.order_label": "order {code}",
        "err.till_invalid": "A till number is 5 to 7 digits, an order code 8.",
        "err.order_code_invalid": "That order code is not right. Check it and retry.",
        "err.order_not_found": "No order has that code.",
        "err.order_paid": "That order is already paid.",
        "err.order_in_progress": "A payment for that order is in progress. Try again shortly.",
        "err.order_expired": "That order has expired. Ask the merchant for a new one.",
        "err.order_canceled": "That order was canceled.",
        "err.till_unknown": "No merchant has that till number.",
        "err.till_closed": "That merchant is not taking payments now.",
        "end.paid": (
            "Paid KES {amount} to {name} (till {till}). Ref {reference}. New balance KES {balance}."
        ),
        "end.paid_order": (
            "Paid KES {amount} to {name} for {label}. Ref {reference}. New balance KES {balance}."
        ),
        "end.not_paid": "Not paid. {reason}",
        "payreq.ask": "{name} asks KES {amount} for {label}.\n1. Pay\n2. Decline\n0. Later",
        "end.payreq_declined": (
            "You declined {name}'s request for KES {amount}. Nothing was paid."
        ),
        "end.payreq_gone": "That request is no longer pending. Nothing was paid.",
        "statement.merchant_payment": "Till pay",
        "statement.merchant_refund": "Till refund",
    },
    "sw": {
        "pay.till": (
            "Lipa mfanyabiashara\nWeka nambari ya till au msimbo wa oda\n1. Bili / Muda wa maongezi"
        ),
        "pay.amount": "Lipa {name} (till {till})\nWeka kiasi cha KES",
        "pay.confirm": (
            "Lipa {name} (till {till}) KES {amount}. Ada KES {fee}.\nWeka PIN kuthibitisha"
        ),
        "pay.confirm_order": (
            "Lipa {name} KES {amount} kwa {label}. Ada KES {fee}.\nWeka PIN kuthibitisha"
        ),
        "pay.order_label": "oda {code}",
        "err.till_invalid": "Nambari ya till ni tarakimu 5 hadi 7, msimbo wa oda 8.",
        "err.order_code_invalid": "Msimbo huo wa oda si sahihi. Uangalie ujaribu tena.",
        "err.order_not_found": "Hakuna oda yenye msimbo huo.",
        "err.order_paid": "Oda hiyo imeshalipwa.",
        "err.order_in_progress": "Malipo ya oda hiyo yanaendelea. Jaribu tena baadaye kidogo.",
        "err.order_expired": "Muda wa oda hiyo umekwisha. Omba mpya kwa mfanyabiashara.",
        "err.order_canceled": "Oda hiyo imesitishwa.",
        "err.till_unknown": "Hakuna mfanyabiashara mwenye till hiyo.",
        "err.till_closed": "Mfanyabiashara huyo hapokei malipo sasa.",
        "end.paid": (
            "Umelipa KES {amount} kwa {name} (till {till}). Kumb. {reference}. "
            "Salio jipya KES {balance}."
        ),
        "end.paid_order": (
            "Umelipa KES {amount} kwa {name} kwa {label}. Kumb. {reference}. "
            "Salio jipya KES {balance}."
        ),
        "end.not_paid": "Hujalipa. {reason}",
        "payreq.ask": "{name} anaomba KES {amount} kwa {label}.\n1. Lipa\n2. Kataa\n0. Baadaye",
        "end.payreq_declined": ("Umekataa ombi la {name} la KES {amount}. Hakuna kilicholipwa."),
        "end.payreq_gone": "Ombi hilo halipo tena. Hakuna kilicholipwa.",
        "statement.merchant_payment": "Lipa till",
        "statement.merchant_refund": "Rejesho till",
    },
}
