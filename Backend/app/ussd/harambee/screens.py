"""The Harambee branch of the USSD menu tree, declared as data (app/ussd/flow.py adds it).

Harambee
1. Contribute   -> list (3 a screen, 98 more) or a code -> amount ->
                   1. Pay now  2. Pay now, anonymously  3. Pledge -> (due date) -> PIN
2. My pledges   -> list -> 1. Pay all  2. Pay part -> PIN
3. Start        -> title -> target -> end date -> PIN -> code (screen and SMS)
4. My harambees -> list -> 1. Close, take the money  2. Cancel, refund everyone -> PIN
"""

from __future__ import annotations

from app.ussd.engine import Menu, Option, Prompt
from app.ussd.harambee import flow as give
from app.ussd.harambee import organise

SCREENS = [
    Menu(
        "harambee",
        "har.title",
        (
            Option("har.contribute", action=give.contribute_start),
            Option("har.my_pledges", action=give.pledges_start),
            Option("har.start", goto="har.new_title"),
            Option("har.mine", action=organise.mine_start),
        ),
    ),
    # contribute
    Prompt("har.list", "har.list", give.list_choose, values=give.list_values),
    Prompt("har.amount", "har.amount", give.amount_entered, values=give.campaign_values),
    Menu(
        "har.how",
        "har.how",
        (
            Option("har.pay_now", action=give.pay(anonymous=False)),
            Option("har.pay_anon", action=give.pay(anonymous=True)),
            Option("har.pledge", goto="har.due"),
        ),
        values=give.campaign_values,
    ),
    Prompt("har.pay_pin", "har.pay_pin", give.pay_confirm, values=give.campaign_values),
    Menu(
        "har.due",
        "har.due",
        (
            Option("har.in_week", action=give.due(7)),
            Option("har.in_2weeks", action=give.due(14)),
            Option("har.in_month", action=give.due(30)),
        ),
        values=give.campaign_values,
    ),
    Prompt("har.pledge_pin", "har.pledge_pin", give.pledge_confirm, values=give.campaign_values),
    # my pledges
    Prompt("har.pledges", "har.pledges", give.pledges_choose, values=give.pledges_values),
    Menu(
        "har.pledge",
        "har.pledge_menu",
        (
            Option("har.pay_all", action=give.pay_all),
            Option("har.pay_part", goto="har.part"),
        ),
        values=give.pledge_values,
    ),
    Prompt("har.part", "har.part", give.part_entered, values=give.pledge_values),
    Prompt(
        "har.pledge_pay_pin",
        "har.pledge_pay_pin",
        give.pledge_pay_confirm,
        values=give.pledge_values,
    ),
    # start a harambee
    Prompt("har.new_title", "har.new_title", organise.title_entered),
    Prompt("har.new_target", "har.new_target", organise.target_entered, values=organise.new_values),
    Menu(
        "har.new_end",
        "har.new_end",
        (
            Option("har.in_week", action=organise.ends("1")),
            Option("har.in_month", action=organise.ends("2")),
            Option("har.in_3months", action=organise.ends("3")),
            Option("har.no_end", action=organise.ends("4")),
        ),
    ),
    Prompt("har.new_pin", "har.new_pin", organise.start_confirm, values=organise.new_values),
    # my harambees
    Prompt("har.mine", "har.mine_list", organise.mine_choose, values=organise.mine_values),
    Menu(
        "har.manage",
        "har.manage",
        (Option("har.close", goto="har.close_pin"), Option("har.cancel", goto="har.cancel_pin")),
        values=give.campaign_values,
    ),
    Prompt("har.close_pin", "har.close_pin", organise.close_confirm, values=give.campaign_values),
    Prompt(
        "har.cancel_pin", "har.cancel_pin", organise.cancel_confirm, values=give.campaign_values
    ),
]
