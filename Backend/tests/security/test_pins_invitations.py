"""One user cannot make PayTrace text unlimited numbers: invitations are capped per
sender and day across all numbers (INVITES_PER_SENDER_PER_DAY), in PostgreSQL, on
USSD and REST alike; over the cap nothing is queued and the caller is told."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from app.db.unit_of_work import UnitOfWork
from app.errors import InviteLimitReached
from app.services import invitations
from tests.e2e.at_gateway import AtGateway
from tests.support.pwa import Pwa
from tests.support.wallets import SHORTCODE, phone_of, register, registration_secrets

PIN = "4821"
JANE = phone_of(1)
T0 = datetime(2030, 1, 1, 8, 0, tzinfo=UTC)


def stranger(n: int) -> str:
    return phone_of(500 + n)


@pytest.fixture
def jane(settings, clean_database) -> int:
    box, pin_hash = registration_secrets(settings, PIN)
    return register(clean_database, box, pin_hash, phone=JANE, name="Jane Wanjiku")


def invite(database, sender: int, phone: str, limit: int = 5, now: datetime = T0) -> bool:
    return invitations.invite(
        UnitOfWork(database),
        sender_user_id=sender,
        phone=phone,
        shortcode=SHORTCODE,
        daily_limit=limit,
        now=now,
    )


def invites_queued(database) -> list[str]:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT payload->>'to' FROM outbox WHERE payload->>'template' = 'invite' ORDER BY id"
        )
        found = [row[0] for row in cur.fetchall()]
        conn.rollback()
    return found


def test_the_sixth_number_of_the_day_is_refused_and_nothing_is_queued(clean_database, jane):
    assert all(invite(clean_database, jane, stranger(n)) for n in range(5))
    with pytest.raises(InviteLimitReached) as refused:
        invite(clean_database, jane, stranger(5))
    assert refused.value.limit == 5
    assert invites_queued(clean_database) == [stranger(n) for n in range(5)]
    # A number already invited today is answered as before, and uses up nothing.
    assert invite(clean_database, jane, stranger(0)) is False
    # The next Nairobi day starts afresh (21:00 UTC is midnight in Nairobi).
    tomorrow = T0.replace(hour=21) + timedelta(minutes=1)
    assert invite(clean_database, jane, stranger(5), now=tomorrow)


def test_concurrent_invitations_of_one_sender_never_pass_the_cap(clean_database, jane):
    start = threading.Barrier(12)
    outcomes: list[object] = []

    def one(n: int) -> None:
        start.wait()
        try:
            outcomes.append(invite(clean_database, jane, stranger(n)))
        except InviteLimitReached as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes.count(True) == 5
    assert sum(isinstance(o, InviteLimitReached) for o in outcomes) == 7
    assert len(invites_queued(clean_database)) == 5


@pytest.fixture
def pwa(live_server, live_settings, database) -> Iterator[Pwa]:
    client = Pwa(live_server.url, live_settings, database)
    yield client
    client.close()


def test_rest_answers_429_over_the_cap_and_sends_nothing(pwa, clean_database, jane):
    tokens = pwa.sign_in(JANE, PIN)
    answers = [
        pwa.http.post("/invitations", json={"phone": stranger(n)}, headers=pwa.bearer(tokens))
        for n in range(6)
    ]

    assert [a.status_code for a in answers] == [202] * 5 + [429]
    body = answers[-1].json()
    assert body["error"] == "invite_limit_reached" and "tomorrow" in body["detail"]
    pwa.deliver_sms()
    assert pwa.inbox(stranger(5)) == []
    assert len(invites_queued(clean_database)) == 5


def test_ussd_ends_saying_the_days_invitations_are_used_up(live_server, clean_database, jane):
    for n in range(5):
        invite(clean_database, jane, stranger(n), now=datetime.now(UTC))

    screen = AtGateway(live_server.url, JANE).walk("1", stranger(5), "1")

    assert screen == (
        "END You have reached today's limit of 5 invitations. You can invite more tomorrow."
    )
    assert stranger(5) not in invites_queued(clean_database)
