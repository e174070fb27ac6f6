"""Buy airtime's words, per language (merged into app.ussd.texts.TEXTS).

GSM-7 only; the confirmation fits 182 characters with the navigation footer at the
longest biller name and amount (tests/unit/test_ussd_screen_limits.py).
"""

from __future__ import annotations

AIRTIME_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "air.who": "Buy airtime",
        "air.mine": "My number",
        "air.other": "Another number",
        "air.phone": "Buy airtime\nEnter phone number",
        "air.amount": "{biller} {phone}\nEnter amount in KES",
        "air.confirm": (
            "{biller} {phone} KES {amount} + fee KES {fee}\nEnter PIN to confirm\n9. Repeat monthly"
        ),
        "err.air_phone": "Enter a Kenyan mobile number, e.g. 0712345678.",
        "err.air_network": "PayTrace does not sell airtime for that network yet.",
        "err.air_amount": "Airtime is KES {low} to {high}.",
        "end.airtime": (
            "{biller} KES {amount} for {phone} is on its way. Ref {reference}. "
            "New balance KES {balance}. An SMS will confirm."
        ),
        "end.air_not_sold": "Not paid. PayTrace cannot sell this airtime now.",
    },
    "sw": {
        "air.who": "Nunua muda wa maongezi",
        "air.mine": "Nambari yangu",
        "air.other": "Nambari nyingine",
        "air.phone": "Nunua muda wa maongezi\nWeka nambari ya simu",
        "air.amount": "{biller} {phone}\nWeka kiasi cha KES",
        "air.confirm": (
            "{biller} {phone} KES {amount} + ada KES {fee}\nWeka PIN kuthibitisha\n"
            "9. Rudia kila mwezi"
        ),
        "err.air_phone": "Weka nambari ya simu ya Kenya, mfano 0712345678.",
        "err.air_network": "PayTrace bado haiuzi muda wa maongezi wa mtandao huo.",
        "err.air_amount": "Muda wa maongezi ni KES {low} hadi {high}.",
        "end.airtime": (
            "{biller} KES {amount} kwa {phone} inatumwa. Kumb. {reference}. "
            "Salio jipya KES {balance}. Utapata SMS."
        ),
        "end.air_not_sold": "Hujalipa. PayTrace haiwezi kuuza muda huu sasa.",
    },
}
