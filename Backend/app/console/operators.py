"""The console's operators, for admins: the list, a new operator (their TOTP seed shown
once), a changed role, disabled or enabled, a new TOTP seed. Every change is audited by
its own commit; the seeds' URIs are shown in the answer only, never in a URL or a row."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from app.console.sign_in import credentials_of
from app.console.trail import Admin, Console, ConsoleRoute
from app.console.web import redirect
from app.domain.records.console import ROLES
from app.services import operator_admin, operators
from app.services.operators import PASSWORD_MAX, PASSWORD_MIN

router = APIRouter(prefix="/console", include_in_schema=False, route_class=ConsoleRoute)

OperatorId = Annotated[int, Path(ge=1, le=2**63 - 1)]
DONE = r"^[a-z_]+$"


async def _list_page(console: Console, done: str | None = None, **shown: object) -> Response:
    rows = await console.run(operator_admin.all_operators)
    return console.page(
        "operators.html",
        rows=rows,
        roles=ROLES,
        done=done,
        csrf=console.session.csrf,
        me=console.session.operator_id,
        password_min=PASSWORD_MIN,
        password_max=PASSWORD_MAX,
        **shown,
    )


@router.get("/operators", name="operators")
async def operator_list(
    console: Admin, done: Annotated[str | None, Query(max_length=16, pattern=DONE)] = None
) -> Response:
    return await _list_page(console, done)


@router.post("/operators", name="create_operator")
async def create(request: Request, console: Admin) -> Response:
    """The new operator's otpauth:// URI is in this answer only (Cache-Control: no-store)."""
    hasher, box = credentials_of(request)
    email = console.form.get("email", "")
    console.audit.target("operator", operators.normalised_email(email))
    console.audit.detail["role"] = console.form.get("role", "")
    # The password's argon2 hash takes the sign-ins' turn, never the USSD PIN checks'.
    async with console.runtime.console_sign_ins:
        created = await console.run(
            operators.create,
            hasher,
            box,
            email=email,
            role=console.form.get("role", ""),
            password=console.form.get("password", ""),
        )
    return await _list_page(
        console, "created", provisioned=created.operator, uri=created.provisioning_uri
    )


@router.post("/operators/{operator_id}/role", name="set_operator_role")
async def set_role(operator_id: OperatorId, console: Admin) -> Response:
    role = console.form.get("role", "")
    console.audit.target("operator", str(operator_id))
    console.audit.detail["role"] = role
    changed = await console.run(
        operator_admin.set_role,
        acting_id=console.session.operator_id,
        operator_id=operator_id,
        role=role,
    )
    if not changed:  # nothing committed: the row written after the answer says so
        console.audit.detail["changed"] = False
    return redirect("/console/operators?done=role")


async def _set_disabled(console: Console, operator_id: int, disabled: bool) -> Response:
    console.audit.target("operator", str(operator_id))
    changed = await console.run(
        operator_admin.set_disabled,
        acting_id=console.session.operator_id,
        operator_id=operator_id,
        disabled=disabled,
    )
    if not changed:
        console.audit.detail["changed"] = False
    return redirect(f"/console/operators?done={'disabled' if disabled else 'enabled'}")


@router.post("/operators/{operator_id}/disable", name="disable_operator")
async def disable(operator_id: OperatorId, console: Admin) -> Response:
    return await _set_disabled(console, operator_id, True)


@router.post("/operators/{operator_id}/enable", name="enable_operator")
async def enable(operator_id: OperatorId, console: Admin) -> Response:
    return await _set_disabled(console, operator_id, False)


@router.post("/operators/{operator_id}/totp", name="reset_operator_totp")
async def reset_totp(request: Request, operator_id: OperatorId, console: Admin) -> Response:
    _, box = credentials_of(request)
    console.audit.target("operator", str(operator_id))
    uri = await console.run(
        operator_admin.reset_totp,
        box,
        acting_id=console.session.operator_id,
        operator_id=operator_id,
    )
    return await _list_page(console, "totp", reset_id=operator_id, uri=uri)
