"""Bills / Airtime's words, per language (merged into app.ussd.texts.TEXTS).

GSM-7 only; every screen fits 182 characters with the navigation footer at the
longest biller name, account, holder's name, amount, fee and cashback
(tests/unit/test_ussd_screen_limits.py). `bill.word_<account rule>` names an account
on a screen; a rule without its word has `bill.word_account`.
"""

from __future__ import annotations

BILL_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "bills.title": "Bills and airtime",
        "bills.airtime": "Buy airtime",
        "bills.pay": "Pay a bill",
        "bills.tokens": "My recent tokens",
        "bill.list": "Pay a bill\n{lines}",
        "bill.account": "{biller}\nEnter {what} number",
        "bill.amount": "{biller} {account}{holder}\nEnter amount in KES",
        # Tight for '9. Repeat monthly': the longest Kiswahili, with a wrong-PIN line
        # above it, is 178 of 182 characters (so no word for the account here).
        "bill.confirm": (
            "{biller} {account}{holder}\nKES {amount} + fee {fee}{cashback}\n"
            "Enter PIN\n9. Repeat monthly"
        ),
        "bill.cashback": ", cashback {cashback}",
        "bill.word_account": "account",
        "bill.word_kplc_meter": "meter",
        "bill.word_kplc_account": "account",
        "bill.word_water_account": "account",
        "bill.word_dstv_smartcard": "card",
        "bill.word_gotv_iuc": "IUC",
        "bill.word_zuku_account": "account",
        "err.bill_account": "Check the {what} number: {biller} does not take it.",
        "err.bill_amount": "{biller} takes KES {low} to {high}.",
        "end.bill": (
            "{biller} KES {amount} for {what} {account} is being paid. Ref {reference}. "
            "New balance KES {balance}. An SMS will confirm."
        ),
        "end.bill_not_sold": "Not paid. PayTrace cannot pay this biller now.",
        "end.bill_none": "No bills can be paid here yet.",
        "end.tokens_sent": "Your last {count} token(s) are coming by SMS.",
        "end.tokens_none": "You have no prepaid tokens yet.",
    },
    "sw": {
        "bills.title": "Bili na muda wa maongezi",
        "bills.airtime": "Nunua muda wa maongezi",
        "bills.pay": "Lipa bili",
        "bills.tokens": "Tokeni zangu za karibuni",
        "bill.list": "Lipa bili\n{lines}",
        "bill.account": "{biller}\nWeka nambari ya {what}",
        "bill.amount": "{biller} {account}{holder}\nWeka kiasi cha KES",
        "bill.confirm": (
            "{biller} {account}{holder}\nKES {amount} + ada {fee}{cashback}\n"
            "Weka PIN\n9. Rudia kila mwezi"
        ),
        "bill.cashback": ", zawadi {cashback}",
        "bill.word_account": "akaunti",
        "bill.word_kplc_meter": "mita",
        "bill.word_kplc_account": "akaunti",
        "bill.word_water_account": "akaunti",
        "bill.word_dstv_smartcard": "kadi",
        "bill.word_gotv_iuc": "IUC",
        "bill.word_zuku_account": "akaunti",
        "err.bill_account": "Angalia nambari ya {what}: {biller} haiikubali.",
        "err.bill_amount": "{biller} ni KES {low} hadi {high}.",
        "end.bill": (
            "{biller} KES {amount} kwa {what} {account} inalipwa. Kumb. {reference}. "
            "Salio jipya KES {balance}. Utapata SMS."
        ),
        "end.bill_not_sold": "Hujalipa. PayTrace haiwezi kulipa bili hii sasa.",
        "end.bill_none": "Bado hakuna bili zinazolipwa hapa.",
        "end.tokens_sent": "Tokeni zako {count} za mwisho zinakuja kwa SMS.",
        "end.tokens_none": "Bado huna tokeni za umeme.",
    },
}
