"""'Repeat monthly' words, per language (merged into app.ussd.texts.TEXTS).

GSM-7 only; the repeat screens and their ENDs fit 182 characters at the longest name,
number, biller, account, amount, day and a wrong-PIN line
(tests/unit/test_ussd_screen_limits.py, tests/unit/test_ussd_repeat.py). The
confirmations' '9. Repeat monthly' line is in their own texts.
"""

from __future__ import annotations

_MANAGE_EN = "Manage: My account > Scheduled payments."
_MANAGE_SW = "Dhibiti: Akaunti yangu > Malipo ya ratiba."

REPEAT_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "rpt.day": "the {nth}",
        "rpt.day_end": "the {nth} (or month end)",
        "rpt.failed": "set it up in My account > Scheduled payments.",
        "send.repeat": (
            "Send KES {amount} to {name} {masked_phone} now and every month on {on}?\nEnter PIN"
        ),
        "air.repeat": "{biller} {phone} KES {amount} now and every month on {on}?\nEnter PIN",
        "bill.repeat": (
            "{biller} {account}{holder} KES {amount} now and every month on {on}?\nEnter PIN"
        ),
        "end.sent_repeat": (
            "Sent KES {amount} to {name} {masked_phone}. Ref {reference}. "
            f"Repeats monthly on {{on}}. {_MANAGE_EN}"
        ),
        "end.sent_once": (
            "Sent KES {amount} to {name} {masked_phone}. Ref {reference}. Not set to repeat: {why}"
        ),
        "end.airtime_repeat": (
            "{biller} KES {amount} for {phone} is on its way. Ref {reference}. "
            f"Repeats monthly on {{on}}. {_MANAGE_EN}"
        ),
        "end.airtime_once": (
            "{biller} KES {amount} for {phone} is on its way. Ref {reference}. "
            "Not set to repeat: {why}"
        ),
        "end.bill_repeat": (
            "{biller} KES {amount} for {account} is being paid. Ref {reference}. "
            f"Repeats monthly on {{on}}. {_MANAGE_EN}"
        ),
        "end.bill_once": (
            "{biller} KES {amount} for {account} is being paid. Ref {reference}. "
            "Not set to repeat: {why}"
        ),
    },
    "sw": {
        "rpt.day": "tarehe {nth}",
        "rpt.day_end": "tarehe {nth} (au mwisho wa mwezi)",
        "rpt.failed": "yaweke kwenye Akaunti yangu > Malipo ya ratiba.",
        "send.repeat": ("Tuma KES {amount} kwa {name} {masked_phone} sasa na kila {on}?\nWeka PIN"),
        "air.repeat": "{biller} {phone} KES {amount} sasa na kila {on}?\nWeka PIN",
        "bill.repeat": ("{biller} {account}{holder} KES {amount} sasa na kila {on}?\nWeka PIN"),
        "end.sent_repeat": (
            "Umetuma KES {amount} kwa {name} {masked_phone}. Kumb. {reference}. "
            f"Itarudiwa kila {{on}}. {_MANAGE_SW}"
        ),
        "end.sent_once": (
            "Umetuma KES {amount} kwa {name} {masked_phone}. Kumb. {reference}. Haitarudiwa: {why}"
        ),
        "end.airtime_repeat": (
            "{biller} KES {amount} kwa {phone} inatumwa. Kumb. {reference}. "
            f"Itarudiwa kila {{on}}. {_MANAGE_SW}"
        ),
        "end.airtime_once": (
            "{biller} KES {amount} kwa {phone} inatumwa. Kumb. {reference}. Haitarudiwa: {why}"
        ),
        "end.bill_repeat": (
            "{biller} KES {amount} kwa {account} inalipwa. Kumb. {reference}. "
            f"Itarudiwa kila {{on}}. {_MANAGE_SW}"
        ),
        "end.bill_once": (
            "{biller} KES {amount} kwa {account} inalipwa. Kumb. {reference}. Haitarudiwa: {why}"
        ),
    },
}
