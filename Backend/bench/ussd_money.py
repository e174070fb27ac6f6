"""The money-moving USSD call for `bench-ussd --money`: Send money, end to end.

Each call dials, then answers the Send money journey from the main menu: `1`,
the recipient's number as a caller types it (07...), whole shillings, the PIN.
Hops 0-3 are navigation (CON screens); hop 4, the PIN, is the money hop: PIN
check, ledger transaction and outbox rows, answered `END Sent KES ...`.

Callers are registered through USSD (bench.ussd_load.seed_callers) and funded
here through the real cash-in service, in the server's own database.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

from app.cli.terminal_phone import NETWORK_CODE, new_session_id
from app.db.pool import Database
from app.db.unit_of_work import UnitOfWork
from app.services.adjustments import cash_in
from bench.loadgen import Result, http_request

MONEY_HOP = 4  # dial, 1, phone, amount, PIN
MONEY_HOP_P99_MS = 500  # PRODUCT.md, "Quality bars"
# Whole shillings, fee-free (<= KES 100) and fee-bearing mixed; small, so a day of
# repeated runs stays far inside the basic tier's daily limit.
AMOUNTS = (50, 100, 150, 250)
FUNDING_CENTS = 5_000_000  # KES 50,000 per caller per run


def local_number(e164: str) -> str:
    """+254712345678 -> 0712345678: what a Kenyan caller types."""
    return "0" + e164[4:]


def fund_callers(database_url: str, phones: list[str]) -> float:
    """Cash KES 50,000 into each caller's wallet (a new reference each run); seconds taken."""
    started = time.monotonic()
    run = time.time_ns()
    database = Database(database_url, max_connections=8)
    try:

        def fund(phone: str) -> None:
            uow = UnitOfWork(database)
            cash_in(uow, phone=phone, amount=FUNDING_CENTS, reference=f"bench:{run}:{phone}")

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(fund, phones))
    finally:
        database.close()
    return time.monotonic() - started


def money_call(
    port: int, host: str, service_code: str, token: str | None, phones: list[str], pin: str
):
    """Each caller sends to the next caller, a different amount each call."""
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    headers = f"Content-Type: application/x-www-form-urlencoded\r\n{auth}"

    def build(index: int, call_no: int) -> list[bytes]:
        phone = phones[index % len(phones)]
        recipient = local_number(phones[(index + 1) % len(phones)])
        amount = str(AMOUNTS[(index + call_no) % len(AMOUNTS)])
        walk = ["1", recipient, amount, pin]
        session_id = new_session_id()
        return [
            http_request(
                "POST",
                host,
                port,
                "/ussd",
                urlencode(
                    {
                        "sessionId": session_id,
                        "serviceCode": service_code,
                        "phoneNumber": phone,
                        "networkCode": NETWORK_CODE,
                        "text": "*".join(walk[:n]),
                    }
                ).encode(),
                headers,
            )
            for n in range(len(walk) + 1)
        ]

    return build


def hop_kind(hop: int) -> str:
    return "money" if hop == MONEY_HOP else "navigation"


def is_money_journey_answer(hop: int, status: int, body: bytes) -> bool:
    """Navigation hops continue (CON); the PIN hop ends with the money sent."""
    if status != 200:
        return False
    if hop == MONEY_HOP:
        return body.startswith(b"END Sent KES ")
    return body[:4] == b"CON "


def summary(paytrace: Result) -> str:
    """The money hop against its target, and how many callers were told 'Sent'."""
    money = paytrace.kind("money")
    p99 = money.percentile_ms(99)
    verdict = "met" if p99 < MONEY_HOP_P99_MS else "MISSED"
    sent = len(money.latencies_s) - money.errors
    return (
        f"money hop (PIN check + ledger + outbox): p99 {p99:.0f} ms, "
        f"target < {MONEY_HOP_P99_MS} ms: {verdict}; {money.hops_per_s:.1f} money hops/s, "
        f"{sent} answered 'Sent', {money.errors} not"
    )
