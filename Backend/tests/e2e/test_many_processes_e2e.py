"""PayTrace as production runs it: two API processes and two workers (real OS
processes, configured by environment variables) on one PostgreSQL, one Redis and the
local Stellar network. USSD sessions hop between the two APIs, REST transfers are
retried on the other API, all at once; then every movement is in the ledger once and
settled on Stellar once (on-chain balances equal the ledger's), every notice is one
SMS, no outbox row was done twice, and one worker alone holds each loop's lease."""

from __future__ import annotations

import os
import re
import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from itertools import cycle

import httpx
import pytest

from app.integrations.stellar import Horizon
from app.services.custody import SecretBox
from app.services.pins import PinHasher
from tests.conftest import free_port
from tests.e2e.at_gateway import AtGateway
from tests.support.processes import Processes, environment
from tests.support.stellar import books, custody_settings, local_network, prepared_system
from tests.support.wallets import check_ledger, fund, phone_of, register

PIN = "4821"
USSD_SENDERS = (1, 2, 3)
REST_SENDERS = (4, 5, 6)
EVERYONE = USSD_SENDERS + REST_SENDERS
SENDS_EACH = 4
# Seconds a test request may take beside a busy suite (a hop or PIN check is not timed here).
SLOW_ANSWER_S = 30
NAMES = (
    "Jane Wanjiku",
    "Amina Otieno",
    "Baraka Mwangi",
    "Zawadi Njeri",
    "Otieno Were",
    "Neema Atieno",
)
CODE = re.compile(r"PayTrace code: ([0-9]{6})")
SENT = re.compile(r"^END Sent KES \d+ to ")


@pytest.fixture
def deployment(settings, tmp_path):
    """The network, two API processes and two workers; yields (settings, the APIs' URLs,
    the workers' pids)."""
    with local_network(tmp_path / "net", close_interval_s=0.1) as net:
        live = custody_settings(settings, net.url, stellar_channels=4)
        prepared_system(live)
        ports = [free_port(), free_port()]
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        # The workers send SMS to the AT sandbox in the first API (AT's stand-in).
        # What is tested is money moved exactly once across processes, not speed: on a
        # loaded CI machine a money hop (PIN check and ledger) outran the 1.5 s hop
        # deadline and rightly answered "Sorry", so the deadlines here are generous.
        env = environment(
            live,
            AT_BASE_URL=f"{urls[0]}/sandbox/at",
            WORKER_LEASE_TTL_S="5",
            USSD_HOP_DEADLINE_S="10",
            REDIS_TIMEOUT_S="5",
        )
        processes = Processes(tmp_path)
        try:
            for n, port in enumerate(ports):
                processes.api(f"api-{n}", env, port)
            for n in range(2):
                processes.worker(f"worker-{n}", env)
            for url in urls:
                processes.wait_healthy(url)
            yield live, urls, [p.pid for p in processes.started[2:]]
        finally:
            processes.close()


def rows(database, sql: str, *params) -> list[tuple]:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        found = cur.fetchall()
        conn.rollback()
    return found


def until(check, within_s: float = 90.0) -> None:
    deadline = time.monotonic() + within_s
    while not check():
        assert time.monotonic() < deadline, "PayTrace did not settle in time"
        time.sleep(0.2)


def ussd_sends(urls: list[str], n: int) -> list[str]:
    """User n sends SENDS_EACH times over USSD, each hop to the other API, and AT posts
    each confirming hop again to the other API: the same answer."""
    ends = []
    for k in range(SENDS_EACH):
        apis = cycle(urls if k % 2 == 0 else urls[::-1])
        gateway = AtGateway(next(apis), phone_of(n))
        gateway.dial()
        recipient = EVERYONE[(EVERYONE.index(n) + k + 1) % len(EVERYONE)]
        for value in ("1", f"0711{recipient:06d}", str(10 + k)):
            gateway.base_url = next(apis)
            gateway.send(value)
        gateway.base_url = next(apis)
        end = gateway.send(PIN)
        assert SENT.match(end), end
        gateway.base_url = next(apis)
        assert gateway.hop() == end
        ends.append(end)
    return ends


def sign_in(urls: list[str], n: int) -> str:
    """A code asked of one API (delivered by whichever worker), the token of the other.
    The token's PIN check (argon2) beside a busy suite can take longer than httpx's
    default 5 s: a slow answer is not what this test is about."""
    phone = phone_of(n)
    assert (
        httpx.post(
            f"{urls[0]}/api/v1/auth/otp",
            json={"phone": phone, "purpose": "login"},
            timeout=SLOW_ANSWER_S,
        ).status_code
        == 202
    )
    code = None

    def arrived() -> bool:
        nonlocal code
        inbox = httpx.get(
            f"{urls[1]}/sandbox/sms", params={"to": phone}, timeout=SLOW_ANSWER_S
        ).json()
        found = [m.group(1) for msg in inbox if (m := CODE.search(msg["message"]))]
        code = found[-1] if found else None
        return code is not None

    until(arrived, 20)
    answer = httpx.post(
        f"{urls[1]}/api/v1/auth/token",
        json={"phone": phone, "otp": code, "pin": PIN},
        timeout=SLOW_ANSWER_S,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def rest_sends(urls: list[str], n: int, token: str, sends: int = SENDS_EACH) -> list[int]:
    """User n sends `sends` transfers, each retried with its key on the other API."""
    statuses = []
    for k in range(sends):
        recipient = EVERYONE[(EVERYONE.index(n) + k + 1) % len(EVERYONE)]
        body = {"to": phone_of(recipient), "amount": (20 + k) * 100, "pin": PIN}
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())}
        first = httpx.post(
            f"{urls[k % 2]}/api/v1/transfers", json=body, headers=headers, timeout=SLOW_ANSWER_S
        )
        again = httpx.post(
            f"{urls[1 - k % 2]}/api/v1/transfers", json=body, headers=headers, timeout=SLOW_ANSWER_S
        )
        assert first.status_code == 201, first.text
        assert again.status_code == 201 and again.json() == first.json()
        statuses.append(first.status_code)
    return statuses


def test_two_apis_and_two_workers_move_and_settle_every_shilling_exactly_once(deployment, database):
    settings, urls, worker_pids = deployment
    system = prepared_system(settings)
    box, pin_hash = SecretBox.from_settings(settings), PinHasher.from_settings(settings).hash(PIN)
    for n, name in zip(EVERYONE, NAMES, strict=True):
        register(database, box, pin_hash, phone=phone_of(n), name=name)
        fund(database, phone_of(n), 1_000_00)
    tokens = {n: sign_in(urls, n) for n in REST_SENDERS}

    with ThreadPoolExecutor(len(EVERYONE)) as pool:
        ussd = [pool.submit(ussd_sends, urls, n) for n in USSD_SENDERS]
        rest = [pool.submit(rest_sends, urls, n, tokens[n]) for n in REST_SENDERS]
        assert all(len(f.result()) == SENDS_EACH for f in ussd + rest)

    def settled() -> bool:
        open_rows = rows(database, "SELECT count(*) FROM outbox WHERE status <> 'done'")
        unsettled = rows(
            database, "SELECT count(*) FROM stellar_settlements WHERE status <> 'settled'"
        )
        return open_rows == [(0,)] and unsettled == [(0,)]

    until(settled)

    # Every movement once in the ledger, which is sound.
    transfers = rows(
        database,
        "SELECT channel, count(*) FROM journal_transactions WHERE kind = 'transfer'"
        " GROUP BY channel ORDER BY channel",
    )
    assert transfers == [
        ("api", len(REST_SENDERS) * SENDS_EACH),
        ("ussd", len(USSD_SENDERS) * SENDS_EACH),
    ]
    assert check_ledger(database).sound
    # Every movement settled on Stellar once: one settlement row each, and the chain
    # agrees with the ledger (a movement paid twice on-chain would not).
    assert rows(
        database,
        "SELECT count(*) FROM journal_transactions j LEFT JOIN stellar_settlements s"
        " ON s.transaction_id = j.id WHERE s.transaction_id IS NULL",
    ) == [(0,)]
    ledger, on_chain = books(database, Horizon(settings.stellar_horizon_url), system)
    assert on_chain == ledger
    # No outbox row done twice, and one SMS per notice.
    assert rows(database, "SELECT count(*) FROM outbox WHERE attempts <> 1") == [(0,)]
    sms_rows = rows(database, "SELECT count(*) FROM outbox WHERE kind = 'sms'")[0][0]
    inbox = httpx.get(f"{urls[1]}/sandbox/sms").json()
    delivered = [(m["to"], m["message"]) for m in inbox]
    assert sms_rows >= 2 * len(EVERYONE) * SENDS_EACH  # the sender's and the payee's
    assert len(delivered) == sms_rows and len(set(delivered)) == len(delivered)
    # One worker holds each loop's lease, and it is one of the two.
    holders = leases(database)
    assert set(holders) >= {"settlement", "incoming-watcher"}
    assert set(holders.values()) <= set(worker_pids)

    # The worker holding the settler's lease dies (SIGKILL; nothing in flight): the
    # other takes its leases over within WORKER_LEASE_TTL_S and settles what follows.
    dead = holders["settlement"]
    os.kill(dead, signal.SIGKILL)
    [survivor] = [pid for pid in worker_pids if pid != dead]
    after = rest_sends(urls, REST_SENDERS[0], tokens[REST_SENDERS[0]], sends=1)
    assert after == [201]
    until(settled)
    until(lambda: set(leases(database).values()) == {survivor})
    ledger, on_chain = books(database, Horizon(settings.stellar_horizon_url), system)
    assert on_chain == ledger and check_ledger(database).sound
    assert rows(database, "SELECT count(*) FROM outbox WHERE attempts <> 1") == [(0,)]


def leases(database) -> dict[str, int]:
    """Each live lease's name and the pid of the process holding it (host:pid:nonce)."""
    found = rows(database, "SELECT name, holder FROM worker_leases WHERE expires_at > now()")
    return {name: int(holder.split(":")[1]) for name, holder in found}
