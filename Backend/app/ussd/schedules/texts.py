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
        "sch.none": "None yet.",
        "sch.new": "9. New",
        "sch.new_phone": "New scheduled payment\nEnter the phone number to pay",
        "sch.new_amount": "Pay {name} {masked_phone}\nEnter the amount in KES, each time",
        "sch.new_when": "KES {amount} to {name}",
        "sch.every_month": "Every month",
        "sch.every_week": "Every week",
        "sch.new_day": "{question}",
        "sch.day_monthly": "Day of the month, 1-31 (31: the last day of each month)",
        "sch.day_weekly": "Day of the week:\n1 Mon 2 Tue 3 Wed 4 Thu 5 Fri 6 Sat 7 Sun",
        "sch.new_pin": "Send KES {amount} to {name}: {rule}, from today.\nEnter PIN to confirm",
        "err.sch_not_registered": "That number is not on PayTrace. Enter another.",
        "err.sch_day_monthly": "Enter a day from 1 to 31.",
        "err.sch_day_weekly": "Enter a day from 1 (Mon) to 7 (Sun).",
        "err.sch_too_many": "You have the most scheduled payments allowed.",
        "end.sch_made": (
            "Scheduled: KES {amount} to {name}, {rule}. First payment {when}. "
            "We SMS you the day before."
        ),
        "end.sch_not_made": "Not scheduled. {reason}",
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
        "sch.none": "Hakuna bado.",
        "sch.new": "9. Mapya",
        "sch.new_phone": "Malipo mapya ya ratiba\nWeka nambari ya simu ya kulipa",
        "sch.new_amount": "Lipa {name} {masked_phone}\nWeka kiasi cha KES, kila mara",
        "sch.new_when": "KES {amount} kwa {name}",
        "sch.every_month": "Kila mwezi",
        "sch.every_week": "Kila wiki",
        "sch.new_day": "{question}",
        "sch.day_monthly": "Tarehe ya mwezi, 1-31 (31: siku ya mwisho ya kila mwezi)",
        "sch.day_weekly": "Siku ya wiki:\n1 Jtatu 2 Jnne 3 Jtano 4 Alh 5 Ijm 6 Jmosi 7 Jpili",
        "sch.new_pin": (
            "Tuma KES {amount} kwa {name}: {rule}, kuanzia leo.\nWeka PIN kuthibitisha"
        ),
        "err.sch_not_registered": "Nambari hiyo haiko kwenye PayTrace. Weka nyingine.",
        "err.sch_day_monthly": "Weka tarehe kati ya 1 na 31.",
        "err.sch_day_weekly": "Weka siku kati ya 1 (Jtatu) na 7 (Jpili).",
        "err.sch_too_many": "Una idadi ya juu ya malipo ya ratiba.",
        "end.sch_made": (
            "Imewekwa: KES {amount} kwa {name}, {rule}. Malipo ya kwanza {when}. "
            "Tutakutumia SMS siku moja kabla."
        ),
        "end.sch_not_made": "Haijawekwa. {reason}",
        "end.sch_paused": (
            "Yamesimamishwa: KES {amount} kwa {name}. Hakuna kinacholipwa hadi uendelee."
        ),
        "end.sch_active": "Yanaendelea: KES {amount} kwa {name}. Malipo yajayo {when}.",
        "end.sch_finished": "KES {amount} kwa {name} haina tarehe iliyobaki: yamekamilika.",
        "end.sch_stopped": "Yameachwa: KES {amount} kwa {name}. Hayatalipwa tena.",
        "end.sch_ended": "Malipo hayo ya ratiba yameisha. Hakuna kilichobadilishwa.",
    },
}
