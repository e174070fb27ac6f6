"""The Harambee menu's words, per language (merged into app.ussd.texts.TEXTS).

GSM-7 only; a screen with its options, a reason above it and the navigation footer
fits 182 characters with the longest values (tests/unit/test_ussd_harambee.py).
"""

from __future__ import annotations

HARAMBEE_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "har.title": "Harambee",
        "har.contribute": "Contribute",
        "har.my_pledges": "My pledges",
        "har.start": "Start a harambee",
        "har.mine": "My harambees",
        "har.list": "Choose one or type its code\n{lines}",
        "har.none_open": "(none open now)",
        "har.amount": "{title} ({code})\nRaised KES {raised} of {target}\nEnter amount (KES)",
        "har.how": "KES {amount} to {title}",
        "har.pay_now": "Pay now",
        "har.pay_anon": "Pay now, anonymously",
        "har.pledge": "Pledge to pay later",
        "har.pay_pin": "Pay KES {amount} to {title} ({code}){anon}.\nEnter PIN",
        "har.anon": ", no name shown",
        "har.due": "Pay KES {amount} by",
        "har.in_week": "In 1 week",
        "har.in_2weeks": "In 2 weeks",
        "har.in_month": "In 1 month",
        "har.in_3months": "In 3 months",
        "har.no_end": "No end date",
        "har.pledge_pin": "Pledge KES {amount} to {title} ({code}) by {due}.\nEnter PIN",
        "har.pledges": "Your pledges: choose one\n{lines}",
        "har.pledge_menu": "{title}\nKES {left} left of {amount}, due {due}",
        "har.pay_all": "Pay all",
        "har.pay_part": "Pay part",
        "har.part": "KES {left} left to pay.\nEnter amount (KES)",
        "har.pledge_pay_pin": "Pay KES {amount} toward your pledge to {title}.\nEnter PIN",
        "har.new_title": "Name your harambee (3 to 40 letters)",
        "har.new_target": "{title}\nTarget amount (KES)",
        "har.new_end": "When does it end?",
        "har.new_pin": "Start {title}, target KES {target}, {ends}.\nEnter PIN",
        "har.ends_on": "ends {day}",
        "har.open_ended": "no end date",
        "har.mine_list": "Your harambees: choose one\n{lines}",
        "har.manage": "{title} ({code})\nKES {raised} of {target}",
        "har.close": "Close, take the money",
        "har.cancel": "Cancel, refund everyone",
        "har.close_pin": "Close {title}: KES {raised} goes to your wallet.\nEnter PIN",
        "har.cancel_pin": "Cancel {title}: everyone who gave is refunded.\nEnter PIN",
        "err.har_choose": "Choose a number or a 6-digit code.",
        "err.har_no_code": "No harambee has that code.",
        "err.har_not_open": "That harambee takes no money now.",
        "err.har_title": "Use 3 to 40 letters or digits.",
        "err.har_due_late": "It ends on {day}: choose an earlier date.",
        "err.har_over_pledge": "Only KES {left} is left to pay.",
        "err.har_end_soon": "Choose an end date after today.",
        "end.har_paid": (
            "Paid KES {amount} to {title}. Ref {reference}. Raised KES {raised} of {target}. "
            "Balance KES {balance}."
        ),
        "end.har_not_paid": "Not paid. {reason}",
        "end.har_pledged": (
            "You pledged KES {amount} to {title}, due {due}. Pay it from Harambee > My pledges."
        ),
        "end.har_pledge_paid": (
            "Paid KES {amount} toward {title}. Ref {reference}. Left to pay KES {left}. "
            "Balance KES {balance}."
        ),
        "end.har_no_pledges": "You have no pledges to pay.",
        "end.har_no_campaigns": "You run no open harambee. Start one from the Harambee menu.",
        "end.har_started": (
            "Your harambee {title} is open. Its code is {code}: share it. We sent it by SMS too."
        ),
        "end.har_too_many": "You already run 10 harambees. Close one to start another.",
        "end.har_closed": "{title} is closed. KES {amount} paid into your wallet. Ref {reference}.",
        "end.har_closed_empty": "{title} is closed. It held no money.",
        "end.har_cancelled": (
            "{title} is cancelled. {refunded} contributor(s) refunded KES {amount}, each by SMS."
        ),
        "end.har_ended": "That harambee has already ended.",
        "statement.contribution": "Harambee",
        "statement.campaign_payout": "Harambee payout",
        "statement.campaign_refund": "Harambee refund",
    },
    "sw": {
        "har.title": "Harambee",
        "har.contribute": "Changia",
        "har.my_pledges": "Ahadi zangu",
        "har.start": "Anzisha harambee",
        "har.mine": "Harambee zangu",
        "har.list": "Chagua moja au weka nambari yake\n{lines}",
        "har.none_open": "(hakuna iliyo wazi sasa)",
        "har.amount": (
            "{title} ({code})\nImechangwa KES {raised} kati ya {target}\nWeka kiasi (KES)"
        ),
        "har.how": "KES {amount} kwa {title}",
        "har.pay_now": "Lipa sasa",
        "har.pay_anon": "Lipa sasa, bila jina",
        "har.pledge": "Ahidi kulipa baadaye",
        "har.pay_pin": "Lipa KES {amount} kwa {title} ({code}){anon}.\nWeka PIN",
        "har.anon": ", bila jina",
        "har.due": "Lipa KES {amount} kufikia",
        "har.in_week": "Wiki 1",
        "har.in_2weeks": "Wiki 2",
        "har.in_month": "Mwezi 1",
        "har.in_3months": "Miezi 3",
        "har.no_end": "Bila tarehe ya mwisho",
        "har.pledge_pin": "Ahidi KES {amount} kwa {title} ({code}) kufikia {due}.\nWeka PIN",
        "har.pledges": "Ahadi zako: chagua moja\n{lines}",
        "har.pledge_menu": "{title}\nBaki KES {left} kati ya {amount}, {due}",
        "har.pay_all": "Lipa zote",
        "har.pay_part": "Lipa sehemu",
        "har.part": "KES {left} zimebaki.\nWeka kiasi (KES)",
        "har.pledge_pay_pin": "Lipa KES {amount} kwa ahadi yako ya {title}.\nWeka PIN",
        "har.new_title": "Jina la harambee yako (herufi 3 hadi 40)",
        "har.new_target": "{title}\nLengo (KES)",
        "har.new_end": "Itaisha lini?",
        "har.new_pin": "Anzisha {title}, lengo KES {target}, {ends}.\nWeka PIN",
        "har.ends_on": "inaisha {day}",
        "har.open_ended": "bila tarehe ya mwisho",
        "har.mine_list": "Harambee zako: chagua moja\n{lines}",
        "har.manage": "{title} ({code})\nKES {raised} kati ya {target}",
        "har.close": "Funga, chukua pesa",
        "har.cancel": "Sitisha, rudisha pesa",
        "har.close_pin": "Funga {title}: KES {raised} zitaingia pochi yako.\nWeka PIN",
        "har.cancel_pin": "Sitisha {title}: kila aliyechanga atarudishiwa.\nWeka PIN",
        "err.har_choose": "Chagua nambari au nambari ya tarakimu 6.",
        "err.har_no_code": "Hakuna harambee yenye nambari hiyo.",
        "err.har_not_open": "Harambee hiyo haipokei pesa sasa.",
        "err.har_title": "Tumia herufi au tarakimu 3 hadi 40.",
        "err.har_due_late": "Inaisha {day}: chagua tarehe ya mapema.",
        "err.har_over_pledge": "KES {left} tu zimebaki kulipa.",
        "err.har_end_soon": "Chagua tarehe ya mwisho baada ya leo.",
        "end.har_paid": (
            "Umelipa KES {amount} kwa {title}. Kumb. {reference}. Imechangwa KES {raised} "
            "kati ya {target}. Salio KES {balance}."
        ),
        "end.har_not_paid": "Haijalipwa. {reason}",
        "end.har_pledged": (
            "Umeahidi KES {amount} kwa {title}, kufikia {due}. Lipa kupitia Harambee > Ahadi zangu."
        ),
        "end.har_pledge_paid": (
            "Umelipa KES {amount} kwa {title}. Kumb. {reference}. Zimebaki KES {left}. "
            "Salio KES {balance}."
        ),
        "end.har_no_pledges": "Huna ahadi za kulipa.",
        "end.har_no_campaigns": "Huna harambee iliyo wazi. Anzisha moja kwenye menyu ya Harambee.",
        "end.har_started": (
            "Harambee yako {title} imefunguliwa. Nambari yake ni {code}: isambaze. "
            "Tumekutumia SMS pia."
        ),
        "end.har_too_many": "Tayari una harambee 10. Funga moja kuanzisha nyingine.",
        "end.har_closed": (
            "{title} imefungwa. KES {amount} imewekwa kwenye pochi yako. Kumb. {reference}."
        ),
        "end.har_closed_empty": "{title} imefungwa. Haikuwa na pesa.",
        "end.har_cancelled": (
            "{title} imesitishwa. Wachangiaji {refunded} wamerudishiwa KES {amount}, kila "
            "mmoja kwa SMS."
        ),
        "end.har_ended": "Harambee hiyo imeshaisha.",
        "statement.contribution": "Harambee",
        "statement.campaign_payout": "Malipo harambee",
        "statement.campaign_refund": "Marejesho harambee",
    },
}
