"""SMS wording, per language. GSM-7 only and one 160-character part where possible.

Long (over 300 lines) because it holds every SMS in English and in Kiswahili side by
side; no logic lives here.
"""

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
            "PayTrace: 3 wrong PIN attempts. Sending and withdrawing are paused until "
            "{until} EAT. You can still receive money. Not you? Call support."
        ),
        "sw": (
            "PayTrace: PIN si sahihi mara 3. Kutuma na kutoa pesa kumesimamishwa hadi saa "
            "{until}. Bado unaweza kupokea pesa. Si wewe? Piga huduma kwa wateja."
        ),
    },
    "pin_reset_required": {
        "en": (
            "PayTrace: too many wrong PINs. Sending and withdrawing are stopped until your "
            "PIN is reset: use a code by SMS in the PayTrace app, or call support."
        ),
        "sw": (
            "PayTrace: PIN si sahihi mara nyingi. Kutuma na kutoa pesa kumesimamishwa hadi "
            "PIN ibadilishwe: tumia nambari ya SMS kwenye app ya PayTrace, au piga huduma."
        ),
    },
    "pin_reset": {
        "en": (
            "PayTrace: your PIN was reset with a code sent to this phone. "
            "Not you? Call support now."
        ),
        "sw": (
            "PayTrace: PIN yako imebadilishwa kwa nambari iliyotumwa kwa simu hii. "
            "Si wewe? Piga huduma sasa."
        ),
    },
    "pin_changed": {
        "en": "PayTrace: your PIN was changed. If this was not you, call support now.",
        "sw": "PayTrace: PIN yako imebadilishwa. Kama si wewe, piga huduma kwa wateja sasa.",
    },
    "transfer_sent": {
        "en": (
            "PayTrace {reference} confirmed. KES {amount} sent to {name} {phone} on {when}. "
            "Fee KES {fee}. New balance KES {balance}."
        ),
        "sw": (
            "PayTrace {reference} imethibitishwa. KES {amount} imetumwa kwa {name} {phone} "
            "tarehe {when}. Ada KES {fee}. Salio jipya KES {balance}."
        ),
    },
    "transfer_received": {
        "en": (
            "PayTrace {reference} confirmed. You have received KES {amount} from {name} "
            "{phone} on {when}. New balance KES {balance}."
        ),
        "sw": (
            "PayTrace {reference} imethibitishwa. Umepokea KES {amount} kutoka kwa {name} "
            "{phone} tarehe {when}. Salio jipya KES {balance}."
        ),
    },
    "cash_in": {
        "en": (
            "PayTrace {reference} confirmed. KES {amount} added to your wallet on {when}. "
            "New balance KES {balance}."
        ),
        "sw": (
            "PayTrace {reference} imethibitishwa. KES {amount} imeongezwa kwenye pochi yako "
            "tarehe {when}. Salio jipya KES {balance}."
        ),
    },
    "stellar_received": {
        "en": (
            "PayTrace {reference} confirmed. You have received KES {amount} from Stellar "
            "account {sender} on {when}. New balance KES {balance}."
        ),
        "sw": (
            "PayTrace {reference} imethibitishwa. Umepokea KES {amount} kutoka akaunti ya "
            "Stellar {sender} tarehe {when}. Salio jipya KES {balance}."
        ),
    },
    "reversal": {
        "en": (
            "PayTrace {reference}: transaction {original} was reversed. KES {amount} "
            "{direction} your wallet. New balance KES {balance}."
        ),
        "sw": (
            "PayTrace {reference}: muamala {original} umebatilishwa. KES {amount} "
            "{direction} pochi yako. Salio jipya KES {balance}."
        ),
    },
    # ---- M-Pesa: {receipt} in deposit_received is " <M-Pesa receipt>" or empty ----
    "deposit_received": {
        "en": (
            "PayTrace {reference} confirmed. KES {amount} deposited from M-Pesa{receipt} on "
            "{when}. New balance KES {balance}."
        ),
        "sw": (
            "PayTrace {reference} imethibitishwa. KES {amount} imewekwa kutoka M-Pesa{receipt} "
            "tarehe {when}. Salio jipya KES {balance}."
        ),
    },
    "deposit_failed": {
        "en": (
            "PayTrace: your deposit of KES {amount} from M-Pesa did not go through: {reason}. "
            "No money was taken. You can try again."
        ),
        "sw": (
            "PayTrace: kuweka KES {amount} kutoka M-Pesa hakukufanikiwa: {reason}. "
            "Hakuna pesa iliyotolewa. Unaweza kujaribu tena."
        ),
    },
    "withdrawal_sent": {
        "en": (
            "PayTrace {reference} confirmed. KES {amount} sent to your M-Pesa {phone} on {when}. "
            "M-Pesa ref {receipt}. Fee KES {fee}. Balance KES {balance}."
        ),
        "sw": (
            "PayTrace {reference} imethibitishwa. KES {amount} imetumwa kwa M-Pesa yako {phone} "
            "tarehe {when}. Kumb. M-Pesa {receipt}. Ada KES {fee}. Salio KES {balance}."
        ),
    },
    "bill_delivered": {
        "en": (
            "PayTrace {reference} confirmed. {biller} {account} KES {amount} paid on {when}. "
            "Receipt {receipt}. Fee KES {fee}. Balance KES {balance}."
        ),
        "sw": (
            "PayTrace {reference} imethibitishwa. {biller} {account} KES {amount} imelipwa "
            "{when}. Risiti {receipt}. Ada KES {fee}. Salio KES {balance}."
        ),
    },
    "bill_token": {
        "en": "PayTrace {reference} KPLC token for meter {account}: {token}. Units {units}.",
        "sw": "PayTrace {reference} tokeni ya KPLC ya mita {account}: {token}. Uniti {units}.",
    },
    "cashback": {
        "en": (
            "PayTrace {reference}: KES {amount} cashback for {biller} {bill}. "
            "Balance KES {balance}."
        ),
        "sw": (
            "PayTrace {reference}: zawadi ya KES {amount} kwa {biller} {bill}. Salio KES {balance}."
        ),
    },
    "bill_reversed": {
        "en": (
            "PayTrace {reference}: {biller} refunded bill {bill}. KES {refunded} is back in "
            "your wallet (less cashback KES {cashback}). Balance KES {balance}."
        ),
        "sw": (
            "PayTrace {reference}: {biller} imerudisha bili {bill}. KES {refunded} imerudi "
            "kwenye pochi yako (toa zawadi KES {cashback}). Salio KES {balance}."
        ),
    },
    "referral_bonus": {
        "en": (
            "PayTrace {reference}: KES {amount} referral bonus. Someone you invited joined "
            "PayTrace. Balance KES {balance}."
        ),
        "sw": (
            "PayTrace {reference}: bonasi ya KES {amount}. Uliyemwalika amejiunga na "
            "PayTrace. Salio KES {balance}."
        ),
    },
    "bill_failed": {
        "en": (
            "PayTrace {reference}: {biller} {account} KES {amount} did not go through. "
            "KES {total} is back in your wallet. New balance KES {balance}."
        ),
        "sw": (
            "PayTrace {reference}: {biller} {account} KES {amount} haikufanikiwa. KES {total} "
            "imerudishwa kwenye pochi yako. Salio jipya KES {balance}."
        ),
    },
    "withdrawal_failed": {
        "en": (
            "PayTrace {reference}: your withdrawal of KES {amount} to M-Pesa did not go "
            "through. KES {total} is back in your wallet. New balance KES {balance}."
        ),
        "sw": (
            "PayTrace {reference}: kutoa KES {amount} kwenda M-Pesa hakukufanikiwa. KES {total} "
            "imerudishwa kwenye pochi yako. Salio jipya KES {balance}."
        ),
    },
    "invite": {
        "en": (
            "{name} wants to send you money with PayTrace. Dial {shortcode} to open a free "
            "wallet in a minute, on any phone."
        ),
        "sw": (
            "{name} anataka kukutumia pesa kwa PayTrace. Piga {shortcode} kufungua pochi "
            "bila malipo kwa dakika moja, kwa simu yoyote."
        ),
    },
    # A worker's payslip (docs/wages.md): one GSM-7 part; {deductions} lists the items
    # the worker pays ("NSSF 967 SHIF 443 AHL 242 "), amounts in whole shillings.
    "payslip": {
        "en": "PayTrace pay {month}: Gross {gross} {deductions}Net {net}. Ref {reference}",
        "sw": "PayTrace mshahara {month}: Gross {gross} {deductions}Net {net}. Ref {reference}",
    },
    "pin_unlocked": {
        "en": "PayTrace: your PIN has been unlocked by PayTrace support. You can send money again.",
        "sw": "PayTrace: PIN yako imefunguliwa na huduma kwa wateja. Unaweza kutuma pesa tena.",
    },
    "otp": {
        "en": (
            "PayTrace code: {code}. It expires in {minutes} minutes. Never share it: "
            "PayTrace will never ask you for it."
        ),
        "sw": (
            "Nambari ya PayTrace: {code}. Itaisha baada ya dakika {minutes}. Usimpe mtu: "
            "PayTrace haitakuomba kamwe."
        ),
    },
    "otp_already_registered": {
        "en": (
            "PayTrace: this number already has a PayTrace wallet, so no new one was opened. "
            "Sign in instead, or dial {shortcode}."
        ),
        "sw": (
            "PayTrace: nambari hii tayari ina pochi ya PayTrace, kwa hivyo hakuna mpya "
            "iliyofunguliwa. Ingia badala yake, au piga {shortcode}."
        ),
    },
    # ---- harambee: {title} is at most 40 GSM-7 characters, {code} six digits ----
    "harambee_started": {
        "en": (
            "PayTrace: your harambee {title} is open. Its code is {code}: share it so people "
            "can contribute on {shortcode} > Harambee. Target KES {target}."
        ),
        "sw": (
            "PayTrace: harambee yako {title} imefunguliwa. Nambari yake ni {code}: isambaze "
            "ili watu wachange kwa {shortcode} > Harambee. Lengo KES {target}."
        ),
    },
    "harambee_contributed": {
        "en": (
            "PayTrace {reference} confirmed. KES {amount} to harambee {code} {title} on "
            "{when}. Raised KES {raised} of {target}. New balance KES {balance}."
        ),
        "sw": (
            "PayTrace {reference} imethibitishwa. KES {amount} kwa harambee {code} {title} "
            "tarehe {when}. Imechangwa KES {raised} kati ya {target}. Salio jipya KES {balance}."
        ),
    },
    "harambee_milestone": {
        "en": (
            "PayTrace: your harambee {code} {title} has reached {percent}% of its target: "
            "KES {raised} of KES {target}."
        ),
        "sw": (
            "PayTrace: harambee yako {code} {title} imefikia asilimia {percent} ya lengo: "
            "KES {raised} kati ya KES {target}."
        ),
    },
    "harambee_pledged": {
        "en": (
            "PayTrace: you pledged KES {amount} to harambee {code} {title}, due {due}. "
            "Pay it on {shortcode} > Harambee > My pledges."
        ),
        "sw": (
            "PayTrace: umeahidi KES {amount} kwa harambee {code} {title}, kufikia {due}. "
            "Lipa kwa {shortcode} > Harambee > Ahadi zangu."
        ),
    },
    "harambee_payout": {
        "en": (
            "PayTrace {reference} confirmed. Harambee {code} {title} closed: KES {amount} "
            "paid into your wallet on {when}. New balance KES {balance}."
        ),
        "sw": (
            "PayTrace {reference} imethibitishwa. Harambee {code} {title} imefungwa: KES "
            "{amount} imewekwa kwenye pochi yako tarehe {when}. Salio jipya KES {balance}."
        ),
    },
    "harambee_refund": {
        "en": (
            "PayTrace {reference}: harambee {code} {title} was cancelled. KES {amount} "
            "returned to your wallet. New balance KES {balance}."
        ),
        "sw": (
            "PayTrace {reference}: harambee {code} {title} imesitishwa. KES {amount} "
            "imerudishwa kwenye pochi yako. Salio jipya KES {balance}."
        ),
    },
    "merchant_paid": {
        "en": (
            "PayTrace {reference} confirmed. Paid KES {amount} to {name} (till {till}) on "
            "{when}. New balance KES {balance}."
        ),
        "sw": (
            "PayTrace {reference} imethibitishwa. Umelipa KES {amount} kwa {name} (till "
            "{till}) tarehe {when}. Salio jipya KES {balance}."
        ),
    },
    "merchant_refunded": {
        "en": (
            "PayTrace {reference} confirmed. {name} refunded KES {amount} of payment "
            "{payment} on {when}. New balance KES {balance}."
        ),
        "sw": (
            "PayTrace {reference} imethibitishwa. {name} amekurudishia KES {amount} za "
            "malipo {payment} tarehe {when}. Salio jipya KES {balance}."
        ),
    },
    "merchant_payout_sent": {
        "en": (
            "PayTrace {reference} confirmed. {name} payout of KES {amount} sent to M-Pesa "
            "{phone} on {when}. M-Pesa ref {receipt}. Fee KES {fee}. Till balance KES {balance}."
        ),
        "sw": (
            "PayTrace {reference} imethibitishwa. Malipo ya {name} KES {amount} yametumwa kwa "
            "M-Pesa {phone} tarehe {when}. Kumb. M-Pesa {receipt}. Ada KES {fee}. Salio la "
            "till KES {balance}."
        ),
    },
    "merchant_payment_received": {
        "en": (
            "PayTrace {reference}: KES {amount} paid to till {till} by {payer} {phone} on "
            "{when}. Fee KES {fee}. Till balance KES {balance}."
        ),
        "sw": (
            "PayTrace {reference}: KES {amount} zimelipwa kwa till {till} na {payer} {phone} "
            "tarehe {when}. Ada KES {fee}. Salio la till KES {balance}."
        ),
    },
    "merchant_order_paid": {
        "en": (
            "PayTrace {reference} confirmed. Paid KES {amount} to {name} for {order} on "
            "{when}. New balance KES {balance}."
        ),
        "sw": (
            "PayTrace {reference} imethibitishwa. Umelipa KES {amount} kwa {name} kwa {order} "
            "tarehe {when}. Salio jipya KES {balance}."
        ),
    },
    "merchant_order_payment_received": {
        "en": (
            "PayTrace {reference}: order {code}{order} paid, KES {amount}, by {payer} {phone} "
            "on {when}. Fee KES {fee}. Till balance KES {balance}."
        ),
        "sw": (
            "PayTrace {reference}: oda {code}{order} imelipwa, KES {amount}, na {payer} "
            "{phone} tarehe {when}. Ada KES {fee}. Salio la till KES {balance}."
        ),
    },
    # A merchant's request to pay (app/services/pay_requests.py): one part with the
    # longest name, amount and description (tests/unit/test_pay_request_rules.py).
    "pay_request": {
        "en": (
            "PayTrace: {name} asks KES {amount} for {label}. Dial {shortcode} to pay or "
            "decline by {until}."
        ),
        "sw": (
            "PayTrace: {name} anaomba KES {amount} kwa {label}. Piga {shortcode} kulipa au "
            "kukataa hadi {until}."
        ),
    },
    "merchant_order_paid_on_stellar": {
        "en": (
            "PayTrace {reference}: order {code}{order} paid, KES {amount}, on Stellar from "
            "{sender} on {when}. Fee KES {fee}. Till balance KES {balance}."
        ),
        "sw": (
            "PayTrace {reference}: oda {code}{order} imelipwa, KES {amount}, kwa Stellar "
            "kutoka {sender} tarehe {when}. Ada KES {fee}. Salio la till KES {balance}."
        ),
    },
    # A pay order paid from M-Pesa: the payer may have no PayTrace wallet.
    "mpesa_order_paid": {
        "en": (
            "PayTrace {reference}: KES {amount} received from M-Pesa {receipt} for {order} at "
            "{name} on {when}. Thank you."
        ),
        "sw": (
            "PayTrace {reference}: KES {amount} zimepokelewa kutoka M-Pesa {receipt} kwa "
            "{order} kwa {name} tarehe {when}. Asante."
        ),
    },
    "mpesa_payment_returned": {
        "en": (
            "PayTrace: your M-Pesa payment {receipt} of KES {amount} for account {account} "
            "could not be taken and was returned to your M-Pesa on {when}."
        ),
        "sw": (
            "PayTrace: malipo yako ya M-Pesa {receipt} ya KES {amount} kwa akaunti {account} "
            "hayakuweza kupokelewa na yamerudishwa kwa M-Pesa yako tarehe {when}."
        ),
    },
    "harambee_reminder_soon": {
        "en": (
            "PayTrace: your pledge to harambee {code} {title} is due on {due}: KES {left} "
            "left to pay. Dial {shortcode} > Harambee > My pledges."
        ),
        "sw": (
            "PayTrace: ahadi yako kwa harambee {code} {title} inaisha tarehe {due}: KES "
            "{left} zimebaki. Piga {shortcode} > Harambee > Ahadi zangu."
        ),
    },
    "harambee_reminder_today": {
        "en": (
            "PayTrace: your pledge to harambee {code} {title} is due today: KES {left} "
            "left to pay. Dial {shortcode} > Harambee > My pledges."
        ),
        "sw": (
            "PayTrace: ahadi yako kwa harambee {code} {title} inaisha leo: KES {left} "
            "zimebaki. Piga {shortcode} > Harambee > Ahadi zangu."
        ),
    },
    # ---- merchants: {endpoint_id} is a number ----
    "webhook_endpoint_disabled": {
        "en": (
            "PayTrace: your webhook endpoint {endpoint_id} has failed every delivery for 3 "
            "days and is now disabled. Fix it, then enable it with the merchant API."
        ),
        "sw": (
            "PayTrace: webhook yako nambari {endpoint_id} imeshindwa kupokea kwa siku 3 na "
            "imezimwa. Irekebishe, kisha iwashe kwa API ya wafanyabiashara."
        ),
    },
    # ---- scheduled payments (app/services/schedules/runs.py) ----
    "schedule_reminder": {
        "en": (
            "PayTrace: scheduled payment KES {amount} to {name} runs {when}. To pause: "
            "{shortcode} > My account > Scheduled payments."
        ),
        "sw": (
            "PayTrace: malipo ya ratiba KES {amount} kwa {name} yatalipwa {when}. "
            "Kusimamisha: {shortcode} > Akaunti yangu > Malipo ya ratiba."
        ),
    },
    "schedule_caught_up": {
        "en": (
            "PayTrace: a delay on our side held up your scheduled payment of KES {amount} "
            "to {name} due {when} ({count} due). It is being paid now."
        ),
        "sw": (
            "PayTrace: kuchelewa kwetu kulizuia malipo yako ya ratiba ya KES {amount} kwa "
            "{name} ya {when} ({count}). Yanalipwa sasa."
        ),
    },
    "schedule_short": {
        "en": (
            "PayTrace: scheduled payment KES {amount} to {name} due {when} not paid: "
            "balance too low or limit reached. We try again {retry}."
        ),
        "sw": (
            "PayTrace: malipo ya ratiba KES {amount} kwa {name} ya {when} hayakulipwa: "
            "salio halitoshi au kikomo. Tutajaribu tena {retry}."
        ),
    },
    "schedule_skipped": {
        "en": (
            "PayTrace: your scheduled payment of KES {amount} to {name} due {when} was "
            "skipped: it could not be paid. The next one runs as planned."
        ),
        "sw": (
            "PayTrace: malipo yako ya ratiba ya KES {amount} kwa {name} ya {when} "
            "yamerukwa: hayakuweza kulipwa. Yajayo yataendelea kama kawaida."
        ),
    },
    "schedule_paused": {
        "en": (
            "PayTrace: {skips} scheduled payments of KES {amount} to {name} in a row could "
            "not be paid, so it is paused. Resume: {shortcode} > My account."
        ),
        "sw": (
            "PayTrace: malipo {skips} ya ratiba ya KES {amount} kwa {name} mfululizo "
            "hayakulipwa, kwa hiyo yamesimamishwa. Endelea: {shortcode} > Akaunti yangu."
        ),
    },
}

# Words that fill {direction} in the reversal SMS.
REVERSAL_DIRECTION = {
    "en": {"in": "returned to", "out": "taken back from"},
    "sw": {"in": "imerudishwa kwenye", "out": "imetolewa kwenye"},
}


# Words that fill {reason} in deposit_failed, by app.domain.mpesa.failure_reason.
DEPOSIT_FAILURE_REASONS = {
    "en": {
        "cancelled": "the M-Pesa prompt was cancelled",
        "timeout": "the M-Pesa prompt was not answered in time",
        "wrong_pin": "the M-Pesa PIN entered was wrong",
        "insufficient_funds": "your M-Pesa balance was too low",
        "not_started": "M-Pesa could not be reached",
        "other": "M-Pesa could not complete it",
    },
    "sw": {
        "cancelled": "ombi la M-Pesa lilikataliwa",
        "timeout": "ombi la M-Pesa halikujibiwa kwa wakati",
        "wrong_pin": "PIN ya M-Pesa haikuwa sahihi",
        "insufficient_funds": "salio lako la M-Pesa halitoshi",
        "not_started": "M-Pesa haikupatikana",
        "other": "M-Pesa haikuweza kuikamilisha",
    },
}


def render_sms(template: str, language: str, **params: object) -> str:
    texts = SMS_TEXTS[template]
    return texts.get(language, texts["en"]).format(**params)
