"""Admins manage operators from the console, over real HTTP: create one (the TOTP seed
shown once, and it signs in), change a role, disable and enable, reset a TOTP seed;
each audited with its commit. An admin changes neither their own role nor their own
state, and two admins disabling each other at once leave one admin enabled."""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Iterator

import httpx
import pyotp
import pytest

from app.db.unit_of_work import UnitOfWork
from app.errors import LastAdmin, OwnAccount
from app.services import operator_admin
from tests.integration.test_console_tables import query
from tests.support.console import PASSWORD, csrf_of, make_operator, sign_in

URI = 'data-field="provisioning_uri">(otpauth://[^<]+)<'


def client_of(server) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=10, follow_redirects=True)


@pytest.fixture
def admin(live_server, live_settings, clean_database) -> Iterator[httpx.Client]:
    who = make_operator(live_settings, clean_database, "admin", "admin@paytrace.test")
    client = client_of(live_server)
    assert sign_in(client, who.email, PASSWORD, who.code()).status_code == 200
    yield client
    client.close()


def seed_in(html: str) -> str:
    found = re.search(URI, html)
    assert found, "no provisioning URI on the page"
    return pyotp.parse_uri(html_lib.unescape(found.group(1))).secret


def audit(database, action: str) -> list[tuple]:
    return query(
        database,
        "SELECT actor, outcome, target_id, detail::text FROM admin_audit"
        " WHERE action = %(a)s ORDER BY id",
        {"a": f"console_{action}"},
    )


def test_an_admin_creates_an_operator_who_signs_in_with_the_seed_shown_once(
    admin, live_server, clean_database
):
    page = admin.get("/console/operators")
    created = admin.post(
        "/console/operators",
        data={
            "csrf": csrf_of(page.text),
            "email": "New.Ops@Paytrace.test",
            "role": "operator",
            "password": PASSWORD,
        },
    )
    assert created.status_code == 200 and "Created new.ops@paytrace.test (operator)" in created.text
    seed = seed_in(created.text)
    assert "otpauth://" not in admin.get("/console/operators").text  # once
    rows = audit(clean_database, "create_operator")
    assert [r[:3] for r in rows] == [("operator:1", "done", "new.ops@paytrace.test")]
    assert seed not in rows[0][3] and PASSWORD not in rows[0][3]
    with client_of(live_server) as newcomer:
        answer = sign_in(newcomer, "new.ops@paytrace.test", PASSWORD, pyotp.TOTP(seed).now())
        assert answer.status_code == 200 and "new.ops@paytrace.test (operator)" in answer.text

    csrf = csrf_of(page.text)
    again = admin.post(
        "/console/operators",
        data={
            "csrf": csrf,
            "email": "new.ops@paytrace.test",
            "role": "viewer",
            "password": PASSWORD,
        },
    )
    assert again.status_code == 409 and "operator_exists" in again.text
    weak = admin.post(
        "/console/operators",
        data={"csrf": csrf, "email": "x@paytrace.test", "role": "viewer", "password": "short"},
    )
    assert weak.status_code == 422 and "weak_password" in weak.text
    role = admin.post(
        "/console/operators",
        data={"csrf": csrf, "email": "y@paytrace.test", "role": "root", "password": PASSWORD},
    )
    assert role.status_code == 422 and "invalid_role" in role.text


def test_an_admin_changes_a_role_disables_and_enables_an_operator(
    admin, live_server, live_settings, clean_database
):
    viewer = make_operator(live_settings, clean_database, "viewer", "viewer@paytrace.test")
    csrf = csrf_of(admin.get("/console/operators").text)
    with client_of(live_server) as theirs:
        assert sign_in(theirs, viewer.email, PASSWORD, viewer.code()).status_code == 200
        done = admin.post(
            f"/console/operators/{viewer.id}/role", data={"csrf": csrf, "role": "operator"}
        )
        assert done.status_code == 200 and "Role changed" in done.text
        assert query(
            clean_database, "SELECT role FROM operators WHERE id = %(i)s", {"i": viewer.id}
        ) == [("operator",)]
        off = admin.post(f"/console/operators/{viewer.id}/disable", data={"csrf": csrf})
        assert off.status_code == 200 and "Disabled" in off.text
        assert theirs.get("/console", follow_redirects=False).status_code == 303  # session ended
        on = admin.post(f"/console/operators/{viewer.id}/enable", data={"csrf": csrf})
        assert on.status_code == 200 and "Enabled again" in on.text
    assert [r[:3] for r in audit(clean_database, "set_operator_role")] == [
        ("operator:1", "done", str(viewer.id))
    ]
    assert len(audit(clean_database, "disable_operator")) == 1
    assert len(audit(clean_database, "enable_operator")) == 1
    missing = admin.post("/console/operators/999/disable", data={"csrf": csrf})
    assert missing.status_code == 404


def test_an_admin_cannot_demote_disable_or_reset_themselves(admin, clean_database):
    csrf = csrf_of(admin.get("/console/operators").text)
    for action, data in (
        ("role", {"role": "viewer"}),
        ("disable", {}),
        ("totp", {}),
    ):
        answer = admin.post(f"/console/operators/1/{action}", data={"csrf": csrf, **data})
        assert answer.status_code == 409 and "own_account" in answer.text, action
    assert query(clean_database, "SELECT role, disabled FROM operators WHERE id = 1") == [
        ("admin", False)
    ]


def test_two_admins_disabling_each_other_leave_one_enabled(live_settings, clean_database):
    first = make_operator(live_settings, clean_database, "admin", "a@paytrace.test")
    second = make_operator(live_settings, clean_database, "admin", "b@paytrace.test")
    uow = UnitOfWork(clean_database)
    assert operator_admin.set_disabled(
        uow, acting_id=first.id, operator_id=second.id, disabled=True
    )
    # The second's request passed its session check before the first committed.
    with pytest.raises(LastAdmin):
        operator_admin.set_disabled(uow, acting_id=second.id, operator_id=first.id, disabled=True)
    with pytest.raises(LastAdmin):
        operator_admin.set_role(uow, acting_id=second.id, operator_id=first.id, role="viewer")
    with pytest.raises(OwnAccount):
        operator_admin.set_role(uow, acting_id=first.id, operator_id=first.id, role="viewer")
    enabled = query(
        clean_database, "SELECT id FROM operators WHERE role = 'admin' AND NOT disabled"
    )
    assert enabled == [(first.id,)]


def test_a_reset_totp_seed_replaces_the_old_one(admin, live_server, live_settings, clean_database):
    ops = make_operator(live_settings, clean_database, "operator", "ops@paytrace.test")
    csrf = csrf_of(admin.get("/console/operators").text)
    # Whoever holds the lost phone may hold a session too: it ends with the reset.
    lost = client_of(live_server)
    assert sign_in(lost, ops.email, PASSWORD, ops.code()).status_code == 200
    assert lost.get("/console", follow_redirects=False).status_code == 200
    reset = admin.post(f"/console/operators/{ops.id}/totp", data={"csrf": csrf})
    assert reset.status_code == 200 and f"new TOTP seed for operator #{ops.id}" in reset.text
    ended = lost.get("/console", follow_redirects=False)
    assert (ended.status_code, ended.headers.get("location")) == (303, "/console/login")
    lost.close()
    assert admin.get("/console", follow_redirects=False).status_code == 200  # only theirs
    seed = seed_in(reset.text)
    with client_of(live_server) as theirs:
        old = sign_in(theirs, ops.email, PASSWORD, ops.code())
        assert old.status_code == 401
        new = sign_in(theirs, ops.email, PASSWORD, pyotp.TOTP(seed).now())
        assert new.status_code == 200 and "ops@paytrace.test (operator)" in new.text
    rows = audit(clean_database, "reset_operator_totp")
    assert [r[:3] for r in rows] == [("operator:1", "done", str(ops.id))]
    assert seed not in rows[0][3]
