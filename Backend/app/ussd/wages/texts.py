"""Wages' words on USSD, per language (merged into app.ussd.texts.TEXTS).

GSM-7 only; every screen fits 182 characters with the longest values
(tests/unit/test_ussd_screen_limits.py).
"""

from __future__ import annotations

WAGE_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "account.my_pay": "My pay",
        "account.pay_worker": "I employ someone",
        "wg.workers": "Your workers\n{lines}\n9. Add worker",
        "wg.worker": (
            "{name}: KES {gross} {every} gross\n1. Pay now\n{schedule}3. Change pay\n"
            "4. Change name or deductions"
        ),
        "wg.opt_monthly": "2. Pay monthly on a day",
        "wg.opt_weekly": "2. Pay weekly on a day",
        "wg.sched_day": "Pay {name} on a schedule\n{question}",
        "wg.sched_pin": "Pay {name} KES {gross} gross, {rule}, from today.\nEnter PIN to confirm",
        "wg.edit_gross": "New gross pay of {name} each time, in KES (now {now})",
        "wg.edit_pin": "{name}: KES {gross} {every} gross from the next pay.\nEnter PIN to confirm",
        "err.wg_daily": "A worker paid daily is paid with Pay now.",
        "err.wg_scheduled": (
            "The worker is paid on a schedule: stop it under Scheduled payments to change "
            "how often."
        ),
        "end.wg_scheduled": (
            "Scheduled: {name}'s pay, {rule}. First {when}. We SMS you the day before. "
            "See Scheduled payments."
        ),
        "end.wg_not_scheduled": "Not scheduled. {reason}",
        "end.wg_changed": (
            "Changed: {name} now gets KES {gross} {every} gross. The next pay uses it."
        ),
        "end.wg_not_changed": "Not changed. {reason}",
        "wg.add_phone": "Add a worker\nEnter the worker's phone number",
        "wg.add_name": "Enter the worker's name for the payslip (up to 30 letters)",
        "wg.add_gross": "Gross pay of {name} each time, in KES (before deductions)",
        "wg.add_every": "{name}: KES {gross} gross. Paid how often?",
        "wg.monthly": "Monthly",
        "wg.weekly": "Weekly",
        "wg.daily": "Daily",
        "wg.every_monthly": "a month",
        "wg.every_weekly": "a week",
        "wg.every_daily": "a day",
        "wg.add_confirm": (
            "Add {name} {masked_phone}: KES {gross} {every} gross. Deducted: {items}."
        ),
        "wg.add_yes": "Add",
        "wg.add_ded": "{name}: KES {gross} {every} gross. Deductions?",
        "wg.ded_all": "All (NSSF, SHIF, Housing levy, PAYE)",
        "wg.ded_choose": "Choose",
        "wg.items": "Deductions of {name}, pick to switch:\n{switches}\n5. Done",
        "wg.item_nssf": "NSSF",
        "wg.item_shif": "SHIF",
        "wg.item_ahl": "Housing levy",
        "wg.item_paye": "PAYE",
        "wg.item_on": "yes",
        "wg.item_off": "no",
        "wg.items_none": "none",
        "wg.det": "{name}: deducted {items}",
        "wg.det_name_opt": "Change name",
        "wg.det_items_opt": "Change deductions",
        "wg.det_name": "New name of {name} for the payslip (up to 30 letters)",
        "wg.det_pin": "{name} from the next pay: {change}.\nEnter PIN to confirm",
        "wg.change_name": "the payslip says {new_name}",
        "wg.change_items": "deducted {items}",
        "end.wg_det_changed": "Changed: {name} from the next pay: {change}.",
        "wg.next_pay": "Next pay {date} from {name}",
        "err.wg_self": "You cannot employ yourself.",
        "err.wg_name": "Use 1 to 30 plain letters.",
        "err.wg_exists": "You already employ someone on that number.",
        "err.wg_too_many": "You have the most workers USSD allows.",
        "end.wg_added": (
            "{name} added: KES {gross} {every}. Pay them under My account > I employ someone."
        ),
        "end.wg_added_invited": (
            "{name} added: KES {gross} {every}. We sent {masked_phone} an SMS to join PayTrace "
            "to be paid."
        ),
        "end.wg_not_added": "Worker not added. {reason}",
        "wg.confirm": "Pay {name} net KES {net}\n{deductions}\nYou pay KES {cost}. Enter PIN",
        "end.wg_cannot_pay": "{name} cannot be paid now. Check the worker in the PayTrace app.",
        "end.wg_paid": "Paid: {name} gets KES {net} and a payslip by SMS.",
        "end.wg_no_pay": "My pay\n{next}No pay received through PayTrace yet.",
        "end.wg_my_pay": "My pay\n{next}{lines}",
    },
    "sw": {
        "account.my_pay": "Mshahara wangu",
        "account.pay_worker": "Ninaajiri mtu",
        "wg.workers": "Wafanyakazi wako\n{lines}\n9. Ongeza mfanyakazi",
        "wg.worker": (
            "{name}: KES {gross} {every}\n1. Lipa sasa\n{schedule}3. Badilisha mshahara\n"
            "4. Badilisha jina au makato"
        ),
        "wg.opt_monthly": "2. Lipa kila mwezi tarehe fulani",
        "wg.opt_weekly": "2. Lipa kila wiki siku fulani",
        "wg.sched_day": "Lipa {name} kwa ratiba\n{question}",
        "wg.sched_pin": (
            "Lipa {name} KES {gross} kabla ya makato, {rule}, kuanzia leo.\nWeka PIN kuthibitisha"
        ),
        "wg.edit_gross": "Mshahara mpya wa {name} kila mara, KES (sasa {now})",
        "wg.edit_pin": (
            "{name}: KES {gross} {every} kabla ya makato kuanzia mshahara ujao.\n"
            "Weka PIN kuthibitisha"
        ),
        "err.wg_daily": "Mfanyakazi wa kila siku hulipwa kwa Lipa sasa.",
        "err.wg_scheduled": (
            "Mfanyakazi analipwa kwa ratiba: isimamishe kwenye Malipo ya ratiba ili kubadilisha."
        ),
        "end.wg_scheduled": (
            "Imepangwa: mshahara wa {name}, {rule}. Kwanza {when}. Tutakutumia SMS siku "
            "moja kabla. Tazama Malipo ya ratiba."
        ),
        "end.wg_not_scheduled": "Haijapangwa. {reason}",
        "end.wg_changed": (
            "Imebadilishwa: {name} sasa anapata KES {gross} {every} kabla ya makato. "
            "Mshahara ujao utatumia hii."
        ),
        "end.wg_not_changed": "Haijabadilishwa. {reason}",
        "wg.add_phone": "Ongeza mfanyakazi\nWeka nambari ya simu ya mfanyakazi",
        "wg.add_name": "Weka jina la mfanyakazi kwa hati ya mshahara (hadi herufi 30)",
        "wg.add_gross": "Mshahara wa {name} kila mara, KES (kabla ya makato)",
        "wg.add_every": "{name}: KES {gross} kabla ya makato. Analipwa kila lini?",
        "wg.monthly": "Kila mwezi",
        "wg.weekly": "Kila wiki",
        "wg.daily": "Kila siku",
        "wg.every_monthly": "kwa mwezi",
        "wg.every_weekly": "kwa wiki",
        "wg.every_daily": "kwa siku",
        "wg.add_confirm": (
            "Ongeza {name} {masked_phone}: KES {gross} {every} kabla ya makato. Makato: {items}."
        ),
        "wg.add_yes": "Ongeza",
        "wg.add_ded": "{name}: KES {gross} {every} kabla ya makato. Makato gani?",
        "wg.ded_all": "Yote (NSSF, SHIF, Ushuru wa nyumba, PAYE)",
        "wg.ded_choose": "Chagua",
        "wg.items": "Makato ya {name}, chagua kubadilisha:\n{switches}\n5. Maliza",
        "wg.item_nssf": "NSSF",
        "wg.item_shif": "SHIF",
        "wg.item_ahl": "Ushuru wa nyumba",
        "wg.item_paye": "PAYE",
        "wg.item_on": "ndiyo",
        "wg.item_off": "hapana",
        "wg.items_none": "hakuna",
        "wg.det": "{name}: makato {items}",
        "wg.det_name_opt": "Badilisha jina",
        "wg.det_items_opt": "Badilisha makato",
        "wg.det_name": "Jina jipya la {name} kwa hati ya mshahara (hadi herufi 30)",
        "wg.det_pin": "{name} kuanzia mshahara ujao: {change}.\nWeka PIN kuthibitisha",
        "wg.change_name": "hati ya mshahara inasema {new_name}",
        "wg.change_items": "makato {items}",
        "end.wg_det_changed": "Imebadilishwa: {name} kuanzia mshahara ujao: {change}.",
        "wg.next_pay": "Mshahara ujao {date} kutoka {name}",
        "err.wg_self": "Huwezi kujiajiri mwenyewe.",
        "err.wg_name": "Tumia herufi 1 hadi 30 za kawaida.",
        "err.wg_exists": "Tayari unaajiri mtu kwenye nambari hiyo.",
        "err.wg_too_many": "Una wafanyakazi wengi zaidi USSD inavyoruhusu.",
        "end.wg_added": (
            "{name} ameongezwa: KES {gross} {every}. Mlipe kwenye Akaunti yangu > Ninaajiri mtu."
        ),
        "end.wg_added_invited": (
            "{name} ameongezwa: KES {gross} {every}. Tumetuma {masked_phone} SMS ajiunge na "
            "PayTrace ili alipwe."
        ),
        "end.wg_not_added": "Mfanyakazi hajaongezwa. {reason}",
        "wg.confirm": "Lipa {name} net KES {net}\n{deductions}\nUnalipa KES {cost}. Weka PIN",
        "end.wg_cannot_pay": "{name} hawezi kulipwa sasa. Angalia mfanyakazi kwenye app.",
        "end.wg_paid": "Umelipa: {name} anapata KES {net} na hati ya mshahara kwa SMS.",
        "end.wg_no_pay": (
            "Mshahara wangu\n{next}Hakuna mshahara uliopokelewa kupitia PayTrace bado."
        ),
        "end.wg_my_pay": "Mshahara wangu\n{next}{lines}",
    },
}
