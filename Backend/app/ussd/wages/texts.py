"""Wages' words on USSD, per language (merged into app.ussd.texts.TEXTS).

GSM-7 only; every screen fits 182 characters with the longest values
(tests/unit/test_ussd_screen_limits.py).
"""

from __future__ import annotations

WAGE_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "account.my_pay": "My pay",
        "account.pay_worker": "Pay worker",
        "wg.workers": "Pay which worker?\n{lines}",
        "wg.confirm": "Pay {name} net KES {net}\n{deductions}\nYou pay KES {cost}. Enter PIN",
        "end.wg_no_workers": (
            "You have no workers yet. Add them in the PayTrace app, then pay them here."
        ),
        "end.wg_cannot_pay": "{name} cannot be paid now. Check the worker in the PayTrace app.",
        "end.wg_paid": "Paid: {name} gets KES {net} and a payslip by SMS.",
        "end.wg_no_pay": "My pay\nNo pay received through PayTrace yet.",
        "end.wg_my_pay": "My pay\n{lines}",
    },
    "sw": {
        "account.my_pay": "Mshahara wangu",
        "account.pay_worker": "Lipa mfanyakazi",
        "wg.workers": "Lipa mfanyakazi yupi?\n{lines}",
        "wg.confirm": "Lipa {name} net KES {net}\n{deductions}\nUnalipa KES {cost}. Weka PIN",
        "end.wg_no_workers": (
            "Huna wafanyakazi bado. Waongeze kwenye app ya PayTrace, kisha uwalipe hapa."
        ),
        "end.wg_cannot_pay": "{name} hawezi kulipwa sasa. Angalia mfanyakazi kwenye app.",
        "end.wg_paid": "Umelipa: {name} anapata KES {net} na hati ya mshahara kwa SMS.",
        "end.wg_no_pay": "Mshahara wangu\nHakuna mshahara uliopokelewa kupitia PayTrace bado.",
        "end.wg_my_pay": "Mshahara wangu\n{lines}",
    },
}
