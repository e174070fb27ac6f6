"""Two PayTrace users, Jane (A) and Amina (B), each with a wallet and a history, signed in
over REST as the PWA signs in: what the cross-user (IDOR) tests attack.

Amina has what Jane must never read or touch: an M-Pesa deposit and withdrawal (through
the local Daraja sandbox), a transfer to Kito, a harambee she organises, an anonymous
contribution to it and a pledge. Jane has her own pledge on Amina's campaign (a
campaign is public; a pledge is not)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta

import httpx

from app.db.pool import Database
from app.db.unit_of_work import UnitOfWork
from app.services.merchants import onboard
from tests.support.merchants import application
from tests.support.mpesa import MpesaRig, rows
from tests.support.pwa import Pwa
from tests.support.wallets import fund, phone_of, register, registration_secrets

PIN = "4821"
JANE, AMINA, KITO = phone_of(1), phone_of(2), phone_of(3)
# Tables whose every row must be the same after Jane's attempts as before them.
WATCHED = (
    "users",
    "user_credentials",
    "pin_attempts",
    "wallets",
    "ledger_accounts",
    "journal_transactions",
    "account_outflows",
    "campaigns",
    "campaign_contributions",
    "pledges",
    "scheduled_payments",
    "scheduled_occurrences",
    "employed_workers",
    "pay_runs",
    "pay_run_lines",
    "mpesa_deposits",
    "mpesa_withdrawals",
    "bill_payments",
    "outbox",
    "sms_messages",
    "api_sessions",
    "api_refresh_tokens",
)


DEPOSIT = {"amount": 10_000}
# Idempotency keys Amina used: the same key from Jane is Jane's own request.
AMINAS_KEYS = {"deposit": "amina-deposit-1", "contribution": "amina-contribution-1"}


def contribution_body(campaign_id: int) -> dict:
    return {
        "campaign_id": campaign_id,
        "amount": 5_000,
        "pin": PIN,
        "is_anonymous": True,
        "message": "from a friend",
    }


TILL = "734512"  # a merchant's till Amina pays and Jane asks a quote for


@dataclass
class World:
    rig: MpesaRig
    pwa: Pwa
    jane: dict  # token answers
    amina: dict
    ids: dict[str, object] = field(default_factory=dict)

    @property
    def database(self) -> Database:
        return self.rig.database

    def as_jane(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        return self._call(self.jane, method, path, **kwargs)

    def as_amina(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        return self._call(self.amina, method, path, **kwargs)

    def _call(self, tokens: dict, method: str, path: str, **kwargs: object) -> httpx.Response:
        headers = {**Pwa.bearer(tokens), "Idempotency-Key": f"idor-{uuid.uuid4()}"}
        headers.update(kwargs.pop("headers", None) or {})  # type: ignore[arg-type]
        return self.pwa.http.request(method, path, headers=headers, **kwargs)  # type: ignore[arg-type]

    def snapshot(self) -> dict[str, list]:
        """Every row of the watched tables."""
        found = {}
        for table in WATCHED:
            found[table] = rows(self.database, f"SELECT to_jsonb(t) FROM {table} t ORDER BY 1")
        return found


def _created(response: httpx.Response) -> dict:
    assert response.status_code in (201, 202), response.text
    return response.json()


def build_world(rig: MpesaRig) -> World:
    pwa = Pwa(rig.paytrace.url, rig.settings, rig.database)
    world = World(
        rig=rig,
        pwa=pwa,
        jane=pwa.register(JANE, "Jane Wanjiku", PIN),
        amina=pwa.register(AMINA, "Amina Yusuf", PIN),
    )
    fund(rig.database, JANE, 500_000, reference="float-jane")
    fund(rig.database, AMINA, 500_000, reference="float-amina")
    due = (date.today() + timedelta(days=20)).isoformat()

    deposit = _created(
        world.as_amina(
            "POST", "/deposits", json=DEPOSIT, headers={"Idempotency-Key": AMINAS_KEYS["deposit"]}
        )
    )
    withdrawal = _created(
        world.as_amina("POST", "/withdrawals", json={"amount": 20_000, "pin": PIN})
    )
    campaign = _created(
        world.as_amina(
            "POST", "/campaigns", json={"title": "Amina's school fees", "target_amount": 900_000}
        )
    )
    contribution = _created(
        world.as_amina(
            "POST",
            "/contributions",
            json=contribution_body(campaign["id"]),
            headers={"Idempotency-Key": AMINAS_KEYS["contribution"]},
        )
    )
    pledge = _created(
        world.as_amina(
            "POST",
            "/pledges",
            json={"campaign_id": campaign["id"], "amount": 30_000, "due_date": due},
        )
    )
    janes_pledge = _created(
        world.as_jane(
            "POST",
            "/pledges",
            json={"campaign_id": campaign["id"], "amount": 7_000, "due_date": due},
        )
    )
    sent = world.as_jane("POST", "/transfers", json={"to": AMINA, "amount": 1_000, "pin": PIN})
    assert sent.status_code == 201, sent.text
    # Amina pays someone Jane does not know: a transfer that is Amina's alone.
    box, pin_hash = registration_secrets(rig.settings, PIN)
    register(rig.database, box, pin_hash, phone=KITO, name="Kito Mwangi")
    paid = world.as_amina("POST", "/transfers", json={"to": KITO, "amount": 2_500, "pin": PIN})
    assert paid.status_code == 201, paid.text
    # And pays a merchant's till: Amina's payment, never on Jane's statement.
    onboard(UnitOfWork(rig.database), application(TILL))
    till_paid = world.as_amina(
        "POST",
        "/payments",
        json={"till": TILL, "amount": 3_000, "pin": PIN},
        headers={"Idempotency-Key": "amina-pays-a-till"},
    )
    assert till_paid.status_code == 201, till_paid.text
    # Amina's rent to Kito, every month: a schedule that is Amina's alone.
    schedule = _created(
        world.as_amina(
            "POST",
            "/schedules",
            json={
                "to": KITO,
                "amount": 2_500,
                "frequency": "monthly",
                "day": 31,
                "time": "09:00",
                "start": due,
                "pin": PIN,
            },
            headers={"Idempotency-Key": "amina-schedules-rent"},
        )
    )
    # And buys airtime: Amina's bill payment.
    airtime = _created(
        world.as_amina(
            "POST",
            "/bills/payments",
            json={"biller": "airtime_safaricom", "account": AMINA, "amount": 1_000, "pin": PIN},
            headers={"Idempotency-Key": "amina-buys-airtime"},
        )
    )
    # Amina employs Kito: her worker and her draft pay run, hers alone.
    assert world.as_amina("POST", "/employer").status_code == 200
    worker = _created(
        world.as_amina(
            "POST",
            "/employer/workers",
            json={"phone": KITO, "display_name": "Kito", "gross_pay": 1_611_375,
                  "frequency": "monthly", "deductions": ["nssf", "shif", "ahl", "paye"]},
        )
    )  # fmt: skip
    # And pays Kito on the 31st: a wage schedule, hers alone.
    _created(
        world.as_amina(
            "POST",
            f"/employer/workers/{worker['id']}/schedule",
            json={"day": 31, "start": due, "pin": PIN},
            headers={"Idempotency-Key": "amina-schedules-kito"},
        )
    )
    pay_run = _created(
        world.as_amina(
            "POST",
            "/employer/pay-runs",
            json={"pay_date": "2025-11-28"},
            headers={"Idempotency-Key": "amina-pays-kito"},
        )
    )
    world.ids.update(
        worker=worker["id"],
        run=pay_run["id"],
        schedule=schedule["id"],
        bill=airtime["id"],
        deposit=deposit["id"],
        withdrawal=withdrawal["id"],
        campaign=campaign["id"],
        contribution=contribution["id"],
        pledge=pledge["id"],
        janes_pledge=janes_pledge["id"],
        jane_id=_user_id(rig.database, JANE),
        amina_id=_user_id(rig.database, AMINA),
    )
    # M-Pesa finishes both (the sandbox's callbacks): nothing moves while Jane tries.
    for kind, reference in (("deposits", deposit["id"]), ("withdrawals", withdrawal["id"])):
        rig.until(
            lambda kind=kind, reference=reference: (
                world.as_amina("GET", f"/{kind}/{reference}").json()["status"] == "completed"
            )
        )
    rig.until(  # AT's verified status callback delivers the airtime
        lambda: (
            rig.work() >= 0
            and world.as_amina("GET", f"/bills/payments/{airtime['id']}").json()["status"]
            == "delivered"
        )
    )
    rig.until(lambda: rig.work() == 0)  # every SMS sent...
    rig.until(  # ...and its delivery report in (AT's sandbox sends them as AT does)
        lambda: (
            not rows(
                rig.database, "SELECT 1 FROM sms_messages WHERE status IN ('submitted', 'sent')"
            )
        )
    )
    return world


def _user_id(database: Database, phone: str) -> int:
    return rows(database, "SELECT id FROM users WHERE phone = %(p)s", p=phone)[0][0]


def amina_only_references(world: World) -> set[str]:
    """Journal references of Amina's movements that Jane took no part in."""
    found = rows(
        world.database,
        """
        SELECT DISTINCT t.reference FROM journal_transactions t
        JOIN journal_legs l ON l.transaction_id = t.id
        JOIN ledger_accounts a ON a.id = l.account_id
        WHERE a.user_id = %(amina)s
          AND NOT EXISTS (SELECT 1 FROM journal_legs l2 JOIN ledger_accounts a2
                          ON a2.id = l2.account_id
                          WHERE l2.transaction_id = t.id AND a2.user_id = %(jane)s)
        """,
        amina=world.ids["amina_id"],
        jane=world.ids["jane_id"],
    )
    return {reference for (reference,) in found}


def amina_leg_ids(world: World) -> list[int]:
    found = rows(
        world.database,
        "SELECT l.id FROM journal_legs l JOIN ledger_accounts a ON a.id = l.account_id"
        " WHERE a.user_id = %(amina)s ORDER BY l.id",
        amina=world.ids["amina_id"],
    )
    return [leg_id for (leg_id,) in found]
