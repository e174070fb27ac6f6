"""Scheduled payments' words on USSD, per language (merged into app.ussd.texts.TEXTS).

GSM-7 only; every screen fits 182 characters with the longest values
(tests/unit/test_ussd_screen_limits.py).
"""

from __future__ import annotations

SCHEDULE_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "account.schedules": "Scheduled payments",
        "sch.list": "Scheduled payments\n{lines}",
        "sch.item": "KES {amount} to {name}\n{rule}\n{state}",
        "sch.next": "Next {when}",
        "sch.paused": "Paused",
        "sch.pause": "Pause",
        "sch.resume": "Resume",
        "sch.stop": "Stop",
        "sch.pin": "{change} KES {amount} to {name}\nEnter PIN to confirm",
        "sch.monthly": "Monthly, day {day}, {time}",
        "sch.weekly": "Every {weekday}, {time}",
        "sch.weekdays": "Mon Tue Wed Thu Fri Sat Sun",
        "end.sch_none": "You have no scheduled payments.",
        "end.sch_paused": "Paused: KES {amount} to {name}. Nothing is paid until you resume it.",
        "end.sch_active": "Resumed: KES {amount} to {name}. Next payment {when}.",
        "end.sch_finished": "KES {amount} to {name} has no date left: it is finished.",
        "end.sch_stopped": "Stopped: KES {amount} to {name}. It will not be paid again.",
        "end.sch_ended": "That scheduled payment has ended. Nothing was changed.",
    },
    "sw": {
        "account.schedules": "Malipo ya ratiba",
        "sch.list": "Malipo ya ratiba\n{lines}",
        "sch.item": "KES {amount} kwa {name}\n{rule}\n{state}",
        "sch.next": "Ijayo {when}",
        "sch.paused": "Yamesimamishwa",
        "sch.pause": "Simamisha kwa muda",
        "sch.resume": "Endelea",
        "sch.stop": "Acha kabisa",
        "sch.pin": "{change} KES {amount} kwa {name}\nWeka PIN kuthibitisha",
        "sch.monthly": "Kila mwezi, tarehe {day}, {time}",
        "sch.weekly": "Kila {weekday}, {time}",
        "sch.weekdays": "Jtatu Jnne Jtano Alh Ijm Jmosi Jpili",
        "end.sch_none": "Huna malipo ya ratiba.",
        "end.sch_paused": (
            "Yamesimamishwa: KES {amount} kwa {name}. Hakuna kinacholipwa hadi uendelee."
        ),
        "end.sch_active": "Yanaendelea: KES {amount} kwa {name}. Malipo yajayo {when}.",
        "end.sch_finished": "KES {amount} kwa {name} haina tarehe iliyobaki: yamekamilika.",
        "end.sch_stopped": "Yameachwa: KES {amount} kwa {name}. Hayatalipwa tena.",
        "end.sch_ended": "Malipo hayo ya ratiba yameisha. Hakuna kilichobadilishwa.",
    },
}
