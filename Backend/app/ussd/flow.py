"""The PayTrace USSD menu tree, declared as data.

Screens name their texts (texts.py) and their next screen; the few handlers
below validate input and call the service port. The money journeys' handlers
live in money_flow.py (send money) and statement_flow.py (balance, mini statement);
the M-Pesa (deposit, withdraw), Harambee, Pay, bills, airtime and scheduled payments
branches are packages of their own, mpesa/, harambee/, pay/, bills/, airtime/ and
schedules/, each declaring its screens. docs/ussd.md draws this tree.
"""

from __future__ import annotations

from dataclasses import replace

from app.domain import pin as pin_rules
from app.domain.phone import mask
from app.errors import AlreadyRegistered, PinLocked, ValidationFailed, WrongPin
from app.services.registration import NewUser
from app.ussd import money_flow as send
from app.ussd import statement_flow as statement
from app.ussd.airtime import screens as airtime_screens
from app.ussd.bills import screens as bill_screens
from app.ussd.engine import (
    Context,
    End,
    Flow,
    Goto,
    Info,
    Menu,
    Option,
    Outcome,
    Prompt,
    Reprompt,
)
from app.ussd.harambee import screens as harambee
from app.ussd.mpesa import flow as mpesa
from app.ussd.mpesa import screens as mpesa_screens
from app.ussd.pay import flow as pay
from app.ussd.pay import screens as pay_screens
from app.ussd.pin_steps import confirm_pin, new_pin, pin_refused
from app.ussd.schedules import flow as schedules
from app.ussd.schedules import screens as schedule_screens
from app.ussd.texts import text
from app.ussd.wages import flow as wages
from app.ussd.wages import screens as wage_screens

# ---- registration -----------------------------------------------------------------


async def reg_name(ctx: Context, value: str) -> Outcome:
    try:
        ctx.state.data["name"] = ctx.services.validate_name(value)
    except ValidationFailed:
        return Reprompt("err.name")
    return Goto("reg.pin")


async def reg_pin(ctx: Context, value: str) -> Outcome:
    return await new_pin(ctx, value, "reg.pin_confirm")


async def reg_pin_confirm(ctx: Context, value: str) -> Outcome:
    return await confirm_pin(ctx, value, "reg.pin") or Goto("reg.language")


def _choose_language(language: str):
    async def handler(ctx: Context, _: str) -> Outcome:
        ctx.state.data["language"] = language
        ctx.state.language = language  # the rest of registration speaks it
        return Goto("reg.terms")

    return handler


async def reg_accept(ctx: Context, _: str) -> Outcome:
    data = ctx.state.data
    if "name" not in data or "pin_hash" not in data:
        return Goto("reg.name", reset=True)
    ctx.committing()
    try:
        profile = await ctx.services.register(
            NewUser(
                phone=ctx.state.phone,
                full_name=data["name"],
                pin_hash=data["pin_hash"],
                language=data.get("language", ctx.lang),
                registration_key=f"ussd:{ctx.session_id}",
            )
        )
    except AlreadyRegistered:
        return End("end.already_registered")
    ctx.state.user = profile
    ctx.state.data = {}
    first = profile.full_name.split()[0][:20]
    return End("end.registered", {"first": first, "paytrace_id": profile.paytrace_id})


async def reg_decline(ctx: Context, _: str) -> Outcome:
    return End("end.declined")


# ---- my account ---------------------------------------------------------------------


def details_body(ctx: Context) -> str:
    user = ctx.user
    return text(
        ctx.lang,
        "details.body",
        name=user.full_name,
        paytrace_id=user.paytrace_id,
        masked_phone=mask(user.phone),
    )


ACTIVATION_STATUSES = ("pending", "active", "failed")


async def address_open(ctx: Context, _: str) -> Outcome:
    """The wallet's status is read fresh on the way in: the cached profile may still say
    'pending' for minutes after the worker activated the wallet on Stellar."""
    status = await ctx.services.wallet_status(user_id=ctx.user.user_id)
    ctx.state.user = replace(ctx.user, activation_status=status)
    return Goto("address")


def address_body(ctx: Context) -> list[str]:
    """Page 1: the status in words and the whole address; page 2 (98): what it is for."""
    address = ctx.user.stellar_address
    # Groups of four, four groups a line: readable aloud and copyable by hand.
    groups = [address[i : i + 4] for i in range(0, len(address), 4)]
    lines = "\n".join(" ".join(groups[i : i + 4]) for i in range(0, len(groups), 4))
    status = ctx.user.activation_status
    status = status if status in ACTIVATION_STATUSES else "pending"
    words = text(ctx.lang, f"address.{status}")
    return [
        text(ctx.lang, "address.body", address=lines, status=words),
        text(ctx.lang, "address.about"),
    ]


async def pin_old(ctx: Context, value: str) -> Outcome:
    if not pin_rules.is_well_formed(value):
        return Reprompt("err.pin_format")
    try:
        await ctx.services.verify_pin(
            user_id=ctx.user.user_id, pin=value, attempt_key=f"ussd:{ctx.hop_key}"
        )
    except (WrongPin, PinLocked) as exc:
        return pin_refused(ctx, exc)
    ctx.state.data["old_pin_verified"] = True
    return Goto("pin.new")


async def pin_new(ctx: Context, value: str) -> Outcome:
    if not ctx.state.data.get("old_pin_verified"):
        return Goto("pin.old", reset=True)
    return await new_pin(ctx, value, "pin.confirm")


async def pin_confirm(ctx: Context, value: str) -> Outcome:
    mismatch = await confirm_pin(ctx, value, "pin.new")
    if mismatch:
        return mismatch
    ctx.committing()
    await ctx.services.set_pin(
        user_id=ctx.user.user_id,
        pin_hash=ctx.state.data["pin_hash"],
        key=f"ussd:{ctx.hop_key}",
    )
    return End("end.pin_changed")


def _set_language(language: str):
    async def handler(ctx: Context, _: str) -> Outcome:
        ctx.state.user = await ctx.services.set_language(
            user_id=ctx.user.user_id, language=language
        )
        ctx.state.language = language
        ctx.state.stack.pop()  # back to My account, with the confirmation on top
        return Goto("account", notice="language.changed")

    return handler


# ---- the tree -----------------------------------------------------------------------

SCREENS = [
    # unregistered
    Menu(
        "welcome",
        "welcome.title",
        (Option("welcome.register", goto="reg.name"), Option("welcome.about", goto="about")),
    ),
    Info("about", lambda ctx: text(ctx.lang, "about.body")),
    Prompt("reg.name", "reg.name", reg_name),
    Prompt("reg.pin", "reg.pin", reg_pin),
    Prompt("reg.pin_confirm", "reg.pin_confirm", reg_pin_confirm),
    Menu(
        "reg.language",
        "reg.language",
        (
            Option("lang.en", action=_choose_language("en")),
            Option("lang.sw", action=_choose_language("sw")),
        ),
    ),
    Menu(
        "reg.terms",
        "reg.terms",
        (Option("reg.accept", action=reg_accept), Option("reg.decline", action=reg_decline)),
    ),
    # registered
    Menu(
        "main",
        "main.title",
        (
            Option("main.send", action=send.send_start),
            Option("main.deposit", action=mpesa.deposit_start),
            Option("main.withdraw", action=mpesa.withdraw_start),
            Option("main.harambee", goto="harambee"),
            Option("main.pay", action=pay.pay_start),
            Option("main.account", goto="account"),
        ),
    ),
    Menu(
        "account",
        "account.title",
        (
            Option("account.balance", goto="balance.pin"),
            Option("account.statement", goto="statement.pin"),
            Option("account.details", goto="details"),
            Option("account.address", action=address_open),
            Option("account.change_pin", goto="pin.old"),
            Option("account.language", goto="language"),
            Option("account.schedules", action=schedules.schedules_start),
            Option("account.my_pay", action=wages.my_pay_open),
            Option("account.pay_worker", action=wages.pay_worker_start),
        ),
    ),
    # send money
    Prompt("send.phone", "send.phone", send.send_phone),
    Menu(
        "send.not_registered",
        "send.not_registered",
        (
            Option("send.invite", action=send.send_invite),
            Option("send.other_number", action=send.send_other_number),
        ),
        values=send.invitee_values,
    ),
    Prompt("send.amount", "send.amount", send.send_amount, values=send.recipient_values),
    Prompt("send.confirm", "send.confirm", send.send_confirm, values=send.confirm_values),
    Prompt("send.repeat", "send.repeat", send.send_repeat, values=send.repeat_values),
    # my account
    Prompt("balance.pin", "balance.pin", statement.balance_pin),
    Prompt("statement.pin", "statement.pin", statement.statement_pin),
    Info("statement", statement.statement_pages),
    Info("details", details_body),
    Info("address", address_body),
    Prompt("pin.old", "pin.old", pin_old),
    Prompt("pin.new", "pin.new", pin_new),
    Prompt("pin.confirm", "pin.confirm", pin_confirm),
    Menu(
        "language",
        "language.title",
        (
            Option("lang.en", action=_set_language("en")),
            Option("lang.sw", action=_set_language("sw")),
        ),
    ),
]

FLOW = Flow(
    screens={
        screen.id: screen
        for screen in [
            *SCREENS,
            *mpesa_screens.SCREENS,
            *harambee.SCREENS,
            *pay_screens.SCREENS,
            *schedule_screens.SCREENS,
            *wage_screens.SCREENS,
            *airtime_screens.SCREENS,
            *bill_screens.SCREENS,
        ]
    },
    home_registered="main",
    home_unregistered="welcome",
)
