"""PayTrace and its local Daraja sandbox over real HTTP, for M-Pesa tests: the two
servers, the outbox worker and the M-Pesa checker driven by the test, and readers of
what PayTrace recorded."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from app.config import Settings
from app.db.pool import Database
from app.worker.mpesa import MpesaChecker
from app.worker.outbox import OutboxWorker, build_worker
from tests.conftest import LiveServer
from tests.support.daraja import DarajaClient, daraja_sandbox

# Fast enough for tests; each is a setting (docs/operations.md says what to use).
FAST = {
    "mpesa_stk_query_after_s": 0.6,
    "mpesa_result_wait_s": 0.6,
    "mpesa_status_query_interval_s": 0.4,
    "mpesa_release_after_not_found": 2,
    "mpesa_check_interval_s": 0.1,
}
# For a test that needs M-Pesa's callback to be what settles a push: the sandbox calls
# back after 0.1 s, but on a loaded machine the delivery has taken longer than FAST's
# 0.6 s, and the checker's STK query settled the push first (rightly: a callback is not
# awaited). The query comes late enough here that only a lost callback waits for it.
CALLBACK_FIRST = {"mpesa_stk_query_after_s": 8.0}


def rows(database: Database, sql: str, **params) -> list[tuple]:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        found = cur.fetchall()
        conn.rollback()
    return found


def one(database: Database, sql: str, **params):
    found = rows(database, sql, **params)
    assert len(found) == 1, found
    return found[0]


@dataclass
class MpesaRig:
    """PayTrace (API) and the sandbox, with the worker's two M-Pesa parts."""

    settings: Settings
    database: Database
    paytrace: LiveServer
    sandbox: DarajaClient
    worker: OutboxWorker
    checker: MpesaChecker

    def work(self) -> int:
        """One pass of the outbox worker and of the checker."""
        return self.worker.run_once() + self.checker.run_once()

    def until(self, condition: Callable[[], object], timeout_s: float = 30.0) -> object:
        """Work until condition() is truthy; returns it. The wait is generous: it costs
        nothing when the condition comes, and a loaded CI machine ran out of 10 s."""
        deadline = time.monotonic() + timeout_s
        while True:
            self.work()
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError("condition not met in time")
            time.sleep(0.05)

    def settle_for(self, seconds: float) -> None:
        """Keep working for a while (nothing more should change)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.work()
            time.sleep(0.05)

    def deposit(self, reference: str) -> tuple:
        return one(
            self.database,
            "SELECT status, checkout_request_id, transaction_id, result_code, receipt"
            " FROM mpesa_deposits WHERE reference = %(r)s",
            r=reference,
        )

    def deposit_statuses(self) -> list[str]:
        """Every deposit's status, oldest first."""
        return [s for (s,) in rows(self.database, "SELECT status FROM mpesa_deposits ORDER BY id")]

    def withdrawal(self, reference: str) -> tuple:
        return one(
            self.database,
            "SELECT status, originator_conversation_id, outcome_id, result_code, not_found,"
            " status_queries FROM mpesa_withdrawals WHERE reference = %(r)s",
            r=reference,
        )

    def callbacks(self, **where: str) -> list[tuple]:
        """(kind, verification, outcome, reference, path) of stored M-Pesa callbacks (or of
        `provider=...`'s), oldest first."""
        where = {"provider": "mpesa", **where}
        clauses = " AND ".join(f"{name} = %({name})s" for name in where)
        return rows(
            self.database,
            f"SELECT kind, verification, outcome, reference, path FROM inbound_callbacks"
            f" WHERE {clauses} ORDER BY id",
            **where,
        )

    def journal(self, kind: str) -> list[tuple]:
        return rows(
            self.database,
            "SELECT id, reference, amount, fee FROM journal_transactions WHERE kind = %(k)s",
            k=kind,
        )

    def callback_url(self, path: str) -> str:
        token = self.settings.mpesa_callback_token.get_secret_value()
        return f"{self.paytrace.url}/callbacks/mpesa/{path}/{token}"

    def post_callback(self, path: str, body: dict, query: str = "") -> httpx.Response:
        return httpx.post(self.callback_url(path) + query, json=body, timeout=10)

    def sms(self, to: str, about: str = "M-Pesa") -> list[str]:
        """The SMS `to` received that mention `about`, oldest first (the worker runs)."""
        self.work()
        answer = httpx.get(f"{self.paytrace.url}/sandbox/sms", params={"to": to}, timeout=10)
        return [m["message"] for m in answer.json() if about in m["message"]]


@contextmanager
def mpesa_rig(
    live_settings: Settings,
    database: Database,
    data_dir: Path,
    sandbox_config: dict | None = None,
    **overrides: object,
) -> Iterator[MpesaRig]:
    """The sandbox on a free port (sandbox_config overrides its SandboxConfig), PayTrace
    on live_settings' port pointed at it."""
    from app.api.app import create_app

    with daraja_sandbox(data_dir / "daraja", **(sandbox_config or {})) as sandbox:
        settings = live_settings.model_copy(
            update={"daraja_base_url": sandbox.url, **FAST, **overrides}
        )
        with LiveServer(create_app(settings), settings.port) as paytrace:
            client = DarajaClient(sandbox.url)
            assert client.http.delete("/sandbox/scenarios").status_code == 204
            rig = MpesaRig(
                settings=settings,
                database=database,
                paytrace=paytrace,
                sandbox=client,
                worker=build_worker(settings, database),
                checker=MpesaChecker.from_settings(settings, database),
            )
            yield rig


def stk_paid_body(
    checkout: str,
    amount_kes: int,
    msisdn: str,
    receipt: str = "UKT7ZQ4M2P",
    merchant: str = "1-2-3",
) -> dict:
    """An STK callback for a paid push, shaped as M-Pesa sends it."""
    return {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": merchant,
                "CheckoutRequestID": checkout,
                "ResultCode": 0,
                "ResultDesc": "The service request is processed successfully.",
                "CallbackMetadata": {
                    "Item": [
                        {"Name": "Amount", "Value": amount_kes},
                        {"Name": "MpesaReceiptNumber", "Value": receipt},
                        {"Name": "Balance"},
                        {"Name": "TransactionDate", "Value": 20261129052450},
                        {"Name": "PhoneNumber", "Value": int(msisdn)},
                    ]
                },
            }
        }
    }
