"""The M-Pesa menu's words (Deposit, Withdraw), per language (merged into app.ussd.texts.TEXTS).

GSM-7 only; a screen with its options and the navigation footer fits 182 characters
with the longest values (tests/unit/test_ussd_screen_limits.py).
"""

from __future__ import annotations

MPESA_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "deposit.amount": "Deposit from M-Pesa {masked_phone}\nEnter amount in KES",
        "withdraw.amount": "Withdraw to M-Pesa {masked_phone}\nEnter amount in KES",
        "withdraw.confirm": (
            "Withdraw KES {amount} to M-Pesa {masked_phone}? Fee KES {fee}. Total KES {total}.\n"
            "Enter PIN to confirm"
        ),
        "err.mpesa_max": "M-Pesa takes at most KES 250,000 at a time.",
        "err.withdraw_min": "The smallest withdrawal is KES 10.",
        "end.deposit_requested": (
            "Check your phone: enter your M-Pesa PIN to deposit KES {amount}. "
            "We will send you an SMS when it arrives."
        ),
        "end.withdraw_requested": (
            "KES {amount} is on its way to your M-Pesa. Fee KES {fee}. Ref {reference}. "
            "New balance KES {balance}. We will send you an SMS."
        ),
        "end.not_withdrawn": "Not withdrawn. {reason}",
        "end.mpesa_unavailable": (
            "Sorry, M-Pesa deposits and withdrawals are not available right now. "
            "Please try again later."
        ),
        "end.not_mpesa_number": "Sorry, M-Pesa can only pay a Kenyan mobile number.",
    },
    "sw": {
        "deposit.amount": "Weka pesa kutoka M-Pesa {masked_phone}\nWeka kiasi cha KES",
        "withdraw.amount": "Toa pesa kwenda M-Pesa {masked_phone}\nWeka kiasi cha KES",
        "withdraw.confirm": (
            "Toa KES {amount} kwenda M-Pesa {masked_phone}? Ada KES {fee}. Jumla KES {total}.\n"
            "Weka PIN kuthibitisha"
        ),
        "err.mpesa_max": "M-Pesa inapokea hadi KES 250,000 kwa mara moja.",
        "err.withdraw_min": "Kiasi cha chini cha kutoa ni KES 10.",
        "end.deposit_requested": (
            "Angalia simu yako: weka PIN yako ya M-Pesa kuweka KES {amount}. "
            "Tutakutumia SMS pesa zikifika."
        ),
        "end.withdraw_requested": (
            "KES {amount} zinatumwa kwa M-Pesa yako. Ada KES {fee}. Kumb. {reference}. "
            "Salio jipya KES {balance}. Tutakutumia SMS."
        ),
        "end.not_withdrawn": "Pesa hazijatolewa. {reason}",
        "end.mpesa_unavailable": (
            "Samahani, kuweka na kutoa pesa kupitia M-Pesa hakupatikani sasa. "
            "Tafadhali jaribu tena baadaye."
        ),
        "end.not_mpesa_number": "Samahani, M-Pesa inalipa nambari za simu za Kenya tu.",
    },
}
