"""SMS wording, per language. GSM-7 only and one 160-character part where possible."""

from __future__ import annotations

SMS_TEXTS: dict[str, dict[str, str]] = {
    "welcome": {
        "en": (
            "Welcome to PayTrace, {name}! Your PayTrace ID is {paytrace_id}. "
            "Dial {shortcode} to send and receive money. Never share your PIN."
        ),
        "sw": (
            "Karibu PayTrace, {name}! Nambari yako ya PayTrace ni {paytrace_id}. "
            "Piga {shortcode} kutuma na kupokea pesa. Usimpe mtu PIN yako."
        ),
    },
    "pin_locked": {
        "en": (
            "PayTrace: 3 wrong PIN attempts. Sending and withdrawing are paused for "
            "{minutes} minutes. You can still receive money. Not you? Call support."
        ),
        "sw": (
            "PayTrace: PIN si sahihi mara 3. Kutuma na kutoa pesa kumesimamishwa kwa "
            "dakika {minutes}. Bado unaweza kupokea pesa. Si wewe? Piga huduma kwa wateja."
        ),
    },
    "pin_changed": {
        "en": "PayTrace: your PIN was changed. If this was not you, call support now.",
        "sw": "PayTrace: PIN yako imebadilishwa. Kama si wewe, piga huduma kwa wateja sasa.",
    },
}


def render_sms(template: str, language: str, **params: object) -> str:
    texts = SMS_TEXTS[template]
    return texts.get(language, texts["en"]).format(**params)
