"""Every word a USSD screen shows, per language.

GSM-7 only and short: a screen is at most 182 characters including its options
and navigation footer (a test renders every screen in every language with the
longest values a user can have).

Long (over 300 lines) because it holds every word in English and in Kiswahili side
by side; no logic lives here.
"""

from __future__ import annotations

from app.ussd.airtime.texts import AIRTIME_TEXTS
from app.ussd.bills.texts import BILL_TEXTS
from app.ussd.harambee.texts import HARAMBEE_TEXTS
from app.ussd.mpesa.texts import MPESA_TEXTS
from app.ussd.pay.texts import PAY_TEXTS
from app.ussd.repeat.texts import REPEAT_TEXTS
from app.ussd.schedules.texts import SCHEDULE_TEXTS
from app.ussd.wages.texts import WAGE_TEXTS

LANGUAGES = ("en", "sw")

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        # navigation
        "nav.more": "98. More",
        "nav.back_home": "0. Back 00. Home",
        # errors and notices
        "err.invalid_option": "Invalid choice.",
        "err.empty": "Please enter a value.",
        "err.too_long": "That is too long.",
        "err.name": "Use letters only, 2 to 60.",
        "err.pin_format": "PIN must be 4 digits.",
        "err.pin_weak": "That PIN is too easy to guess.",
        "err.pin_mismatch": "PINs did not match.",
        "err.pin_same": "New PIN must differ from old.",
        "err.wrong_pin": "Wrong PIN. {left} attempt(s) left.",
        "end.sorry": "Sorry, PayTrace is unavailable right now. Please try again in a few minutes.",
        "end.unconfirmed": (
            "We could not confirm your request in time. If it went through you will get an "
            "SMS. Check your balance before you try again."
        ),
        "end.bad_request": "Sorry, we could not read that request. Please dial again.",
        "end.unknown_code": "This service code is not in use. Dial {shortcode} for PayTrace.",
        "end.goodbye": "Thank you for using PayTrace.",
        # unregistered
        "welcome.title": "Welcome to PayTrace",
        "welcome.register": "Register",
        "welcome.about": "About",
        "about.body": (
            "PayTrace is a mobile wallet for any phone. Send and receive money, "
            "cash in and out with M-Pesa, pay shops and join harambees.\n"
            "Your wallet is a Stellar account that PayTrace keeps safe for you. "
            "You never need a smartphone, a bank or crypto.\n"
            "Fees are shown before you confirm. Your PIN is yours alone: "
            "PayTrace staff will never ask for it."
        ),
        "reg.name": "Enter your full name",
        "reg.pin": "Create a 4-digit PIN",
        "reg.pin_confirm": "Enter the PIN again to confirm",
        "reg.language": "Choose language",
        "reg.terms": (
            "Accept the PayTrace terms? Your wallet is held in custody by PayTrace. "
            "Full terms: paytrace.africa/terms"
        ),
        "reg.accept": "Accept",
        "reg.decline": "Decline",
        "end.registered": (
            "Welcome {first}! Your PayTrace ID is {paytrace_id}. We have sent you an SMS. "
            "Dial {shortcode} again to use your wallet."
        ),
        "end.declined": "Registration cancelled. Dial {shortcode} any time to register.",
        "end.already_registered": "This number is already registered. Dial {shortcode} again.",
        # registered
        "main.title": "PayTrace - Hi {first}",
        "main.send": "Send money",
        "main.deposit": "Deposit",
        "main.withdraw": "Withdraw",
        "main.harambee": "Harambee",
        "main.pay": "Pay",
        "main.account": "My account",
        "account.title": "My account",
        "account.details": "My details",
        "account.address": "My Stellar address",
        "account.change_pin": "Change PIN",
        "account.language": "Language",
        "details.body": "Name: {name}\nPayTrace ID: {paytrace_id}\nPhone: {masked_phone}",
        "address.body": "Status: {status}\nYour wallet address on Stellar:\n{address}",
        "address.about": (
            "Anyone can pay you KES at this address. PayTrace holds its key for you, "
            "so you never need XLM or a smartphone."
        ),
        "address.pending": "Activating",
        "address.active": "Active",
        "address.failed": "Activation delayed, we are on it",
        "pin.old": "Enter your current PIN",
        "pin.new": "Enter a new 4-digit PIN",
        "pin.confirm": "Enter the new PIN again",
        "end.pin_changed": "Your PIN has been changed. We have sent you an SMS.",
        "end.pin_locked_now": (
            "Wrong PIN 3 times. Sending and withdrawing are locked until {until}. "
            "You can still receive money."
        ),
        "end.pin_locked": ("Your PIN is locked until {until}. You can still receive money."),
        "end.pin_reset_required": (
            "Your PIN is locked. Reset it with an SMS code in the PayTrace app, or call "
            "support. You can still receive money."
        ),
        # send money
        "send.phone": "Enter the phone number to send to",
        "send.not_registered": "{masked_phone} is not on PayTrace.",
        "send.invite": "Send them an invite SMS",
        "send.other_number": "Enter another number",
        "send.amount": "Send to {name} {masked_phone}\nEnter amount in KES",
        # Tight for '9. Repeat monthly' (schedules, "Repeat monthly"): the longest
        # Kiswahili, with a wrong-PIN line above it, is 180 of 182 characters.
        "send.confirm": (
            "Send KES {amount} to {name} {masked_phone}\nFee {fee}, total KES {total}\n"
            "Enter PIN\n9. Repeat monthly"
        ),
        "err.phone_invalid": "That is not a valid phone number.",
        "err.send_to_self": "You cannot send money to yourself.",
        "err.amount_not_a_number": "Enter the amount in digits, e.g. 500.",
        "err.amount_not_whole": "Whole shillings only, no cents.",
        "err.amount_not_positive": "The amount must be more than 0.",
        "err.amount_too_large": "That amount is too large.",
        "err.limit_per_transaction": "Above your limit of KES {allowed} per transaction.",
        "err.limit_daily": "Above your daily limit. You can send KES {allowed} more today.",
        "err.limit_rolling_30_days": "Above your 30-day limit. You can send KES {allowed} more.",
        "err.insufficient": (
            "Balance too low: KES {balance}. With the fee this needs KES {needed}."
        ),
        "err.recipient_gone": "The recipient is no longer on PayTrace.",
        "end.invite_sent": (
            "We have sent {masked_phone} an SMS inviting them to PayTrace. "
            "You can send to them once they register."
        ),
        "end.invite_already": (
            "{masked_phone} was already invited today. You can send to them once they register."
        ),
        "end.invite_limit": (
            "You have reached today's limit of {limit} invitations. You can invite more tomorrow."
        ),
        "end.sent": (
            "Sent KES {amount} to {name} {masked_phone}. Fee KES {fee}. Ref {reference}. "
            "New balance KES {balance}."
        ),
        "end.not_sent": "Not sent. {reason}",
        # balance and mini statement
        "account.balance": "Balance",
        "account.statement": "Mini statement",
        "balance.pin": "Enter PIN to see your balance",
        "end.balance": "Your PayTrace balance is KES {balance}.",
        "statement.pin": "Enter PIN to see your mini statement",
        "statement.title": "Mini statement {page}/{pages}",
        "statement.empty": "Mini statement\nNo transactions yet.",
        "statement.cash_in": "Cash in",
        "statement.reversal": "Reversal",
        "statement.deposit": "Deposit",
        "statement.withdrawal": "Withdrawal",
        "statement.withdrawal_release": "Returned",
        "statement.bill_hold": "Bill",
        "statement.bill_release": "Returned",
        "statement.wage_hold": "Wages",
        "statement.wage_payment": "Pay",
        "statement.wage_release": "Returned",
        "statement.cashback": "Cashback",
        "statement.referral_bonus": "Referral",
        "statement.bill_reversal": "Bill refund",
        "language.title": "Choose language",
        "language.changed": "Language set to English.",
        "lang.en": "English",
        "lang.sw": "Kiswahili",
    },
    "sw": {
        "nav.more": "98. Zaidi",
        "nav.back_home": "0. Rudi 00. Mwanzo",
        "err.invalid_option": "Chaguo si sahihi.",
        "err.empty": "Tafadhali weka jibu.",
        "err.too_long": "Ni ndefu mno.",
        "err.name": "Tumia herufi tu, 2 hadi 60.",
        "err.pin_format": "PIN ni tarakimu 4.",
        "err.pin_weak": "PIN hiyo ni rahisi kukisia.",
        "err.pin_mismatch": "PIN hazilingani.",
        "err.pin_same": "PIN mpya iwe tofauti na ya zamani.",
        "err.wrong_pin": "PIN si sahihi. Umebakiza majaribio {left}.",
        "end.sorry": (
            "Samahani, PayTrace haipatikani sasa. Tafadhali jaribu tena baada ya dakika chache."
        ),
        "end.unconfirmed": (
            "Hatukuweza kuthibitisha ombi lako kwa wakati. Likikamilika utapata SMS. "
            "Angalia salio lako kabla ya kujaribu tena."
        ),
        "end.bad_request": "Samahani, hatukuweza kusoma ombi hilo. Tafadhali piga tena.",
        "end.unknown_code": "Nambari hii ya huduma haitumiki. Piga {shortcode} kwa PayTrace.",
        "end.goodbye": "Asante kwa kutumia PayTrace.",
        "welcome.title": "Karibu PayTrace",
        "welcome.register": "Jisajili",
        "welcome.about": "Kuhusu",
        "about.body": (
            "PayTrace ni pochi ya simu kwa simu yoyote. Tuma na pokea pesa, "
            "weka na toa kupitia M-Pesa, lipa maduka na changia harambee.\n"
            "Pochi yako ni akaunti ya Stellar ambayo PayTrace inakulindia. "
            "Huhitaji simu janja, benki wala crypto.\n"
            "Ada huonyeshwa kabla ya kuthibitisha. PIN yako ni siri yako: "
            "wafanyakazi wa PayTrace hawataiomba kamwe."
        ),
        "reg.name": "Weka jina lako kamili",
        "reg.pin": "Tengeneza PIN ya tarakimu 4",
        "reg.pin_confirm": "Weka PIN tena kuthibitisha",
        "reg.language": "Chagua lugha",
        "reg.terms": (
            "Unakubali masharti ya PayTrace? Pochi yako inalindwa na PayTrace. "
            "Masharti kamili: paytrace.africa/terms"
        ),
        "reg.accept": "Kubali",
        "reg.decline": "Kataa",
        "end.registered": (
            "Karibu {first}! Nambari yako ya PayTrace ni {paytrace_id}. Tumekutumia SMS. "
            "Piga {shortcode} tena kutumia pochi yako."
        ),
        "end.declined": "Usajili umesitishwa. Piga {shortcode} wakati wowote kujisajili.",
        "end.already_registered": "Nambari hii imeshasajiliwa. Piga {shortcode} tena.",
        "main.title": "PayTrace - Habari {first}",
        "main.send": "Tuma pesa",
        "main.deposit": "Weka pesa",
        "main.withdraw": "Toa pesa",
        "main.harambee": "Harambee",
        "main.pay": "Lipa",
        "main.account": "Akaunti yangu",
        "account.title": "Akaunti yangu",
        "account.details": "Taarifa zangu",
        "account.address": "Anwani yangu ya Stellar",
        "account.change_pin": "Badilisha PIN",
        "account.language": "Lugha",
        "details.body": "Jina: {name}\nNambari ya PayTrace: {paytrace_id}\nSimu: {masked_phone}",
        "address.body": "Hali: {status}\nAnwani yako ya Stellar:\n{address}",
        "address.about": (
            "Mtu yeyote anaweza kukulipa KES kwa anwani hii. PayTrace inalinda ufunguo "
            "wake, kwa hivyo huhitaji XLM wala simu janja."
        ),
        "address.pending": "Inawashwa",
        "address.active": "Inatumika",
        "address.failed": "Uwashaji umechelewa, tunaushughulikia",
        "pin.old": "Weka PIN yako ya sasa",
        "pin.new": "Weka PIN mpya ya tarakimu 4",
        "pin.confirm": "Weka PIN mpya tena",
        "end.pin_changed": "PIN yako imebadilishwa. Tumekutumia SMS.",
        "end.pin_locked_now": (
            "PIN si sahihi mara 3. Kutuma na kutoa pesa kumefungwa hadi saa {until}. "
            "Bado unaweza kupokea pesa."
        ),
        "end.pin_locked": ("PIN yako imefungwa hadi saa {until}. Bado unaweza kupokea pesa."),
        "end.pin_reset_required": (
            "PIN yako imefungwa. Ibadilishe kwa nambari ya SMS kwenye app ya PayTrace, au "
            "piga huduma kwa wateja. Bado unaweza kupokea pesa."
        ),
        "send.phone": "Weka nambari ya simu ya mpokeaji",
        "send.not_registered": "{masked_phone} hayuko kwenye PayTrace.",
        "send.invite": "Mtumie SMS ya mwaliko",
        "send.other_number": "Weka nambari nyingine",
        "send.amount": "Tuma kwa {name} {masked_phone}\nWeka kiasi cha KES",
        "send.confirm": (
            "Tuma KES {amount} kwa {name} {masked_phone}\nAda {fee}, jumla KES {total}\n"
            "Weka PIN\n9. Rudia kila mwezi"
        ),
        "err.phone_invalid": "Nambari hiyo ya simu si sahihi.",
        "err.send_to_self": "Huwezi kujitumia pesa mwenyewe.",
        "err.amount_not_a_number": "Weka kiasi kwa tarakimu, mfano 500.",
        "err.amount_not_whole": "Shilingi kamili tu, bila senti.",
        "err.amount_not_positive": "Kiasi lazima kiwe zaidi ya 0.",
        "err.amount_too_large": "Kiasi hicho ni kikubwa mno.",
        "err.limit_per_transaction": "Umezidi kikomo chako cha KES {allowed} kwa muamala.",
        "err.limit_daily": "Umezidi kikomo cha siku. Unaweza kutuma KES {allowed} zaidi leo.",
        "err.limit_rolling_30_days": (
            "Umezidi kikomo cha siku 30. Unaweza kutuma KES {allowed} zaidi."
        ),
        "err.insufficient": (
            "Salio halitoshi: KES {balance}. Pamoja na ada unahitaji KES {needed}."
        ),
        "err.recipient_gone": "Mpokeaji hayuko tena kwenye PayTrace.",
        "end.invite_sent": (
            "Tumemtumia {masked_phone} SMS ya mwaliko wa PayTrace. "
            "Utaweza kumtumia pesa akishajisajili."
        ),
        "end.invite_already": (
            "{masked_phone} ameshaalikwa leo. Utaweza kumtumia pesa akishajisajili."
        ),
        "end.invite_limit": ("Umeshatuma mialiko {limit} ya leo. Utaweza kualika zaidi kesho."),
        "end.sent": (
            "Umetuma KES {amount} kwa {name} {masked_phone}. Ada KES {fee}. "
            "Kumb. {reference}. Salio jipya KES {balance}."
        ),
        "end.not_sent": "Pesa hazijatumwa. {reason}",
        "account.balance": "Salio",
        "account.statement": "Taarifa fupi",
        "balance.pin": "Weka PIN kuona salio lako",
        "end.balance": "Salio lako la PayTrace ni KES {balance}.",
        "statement.pin": "Weka PIN kuona taarifa fupi",
        "statement.title": "Taarifa fupi {page}/{pages}",
        "statement.empty": "Taarifa fupi\nHakuna miamala bado.",
        "statement.cash_in": "Kuweka",
        "statement.reversal": "Ubatilisho",
        "statement.deposit": "Weka pesa",
        "statement.withdrawal": "Toa pesa",
        "statement.withdrawal_release": "Imerudi",
        "statement.bill_hold": "Bili",
        "statement.bill_release": "Imerudi",
        "statement.wage_hold": "Mishahara",
        "statement.wage_payment": "Mshahara",
        "statement.wage_release": "Imerudi",
        "statement.cashback": "Zawadi",
        "statement.referral_bonus": "Bonasi",
        "statement.bill_reversal": "Bili imerudi",
        "language.title": "Chagua lugha",
        "language.changed": "Lugha imewekwa Kiswahili.",
        "lang.en": "English",
        "lang.sw": "Kiswahili",
    },
}

# The Harambee, M-Pesa, Pay, scheduled payments', Buy airtime, wages', bills' and
# Repeat monthly's words are kept beside their screens.
for _branch in (
    HARAMBEE_TEXTS,
    MPESA_TEXTS,
    PAY_TEXTS,
    SCHEDULE_TEXTS,
    AIRTIME_TEXTS,
    WAGE_TEXTS,
    BILL_TEXTS,
    REPEAT_TEXTS,
):
    for _language, _texts in _branch.items():
        TEXTS[_language].update(_texts)


def text(language: str, key: str, **values: object) -> str:
    table = TEXTS.get(language) or TEXTS["en"]
    template = table.get(key) or TEXTS["en"][key]
    return template.format(**values) if values else template
