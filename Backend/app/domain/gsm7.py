"""The GSM 03.38 default alphabet: what every handset can show on a USSD screen."""

from __future__ import annotations

_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_EXTENDED = "^{}\\[~]|€\f"
GSM7_CHARS = frozenset(_BASIC + _EXTENDED)
USSD_MAX_CHARS = 182


def is_gsm7(text: str) -> bool:
    return GSM7_CHARS.issuperset(text)


def to_gsm7(text: str, replacement: str = "?") -> str:
    """Replace what a handset cannot show; used on user-supplied values."""
    if GSM7_CHARS.issuperset(text):  # every screen of ours: one C loop, no new string
        return text
    return "".join(ch if ch in GSM7_CHARS else replacement for ch in text)
