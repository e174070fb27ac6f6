"""The console's bill reversal over real HTTP: a delivered bill's transaction offers it
to operators (never to viewers, never for a bill not delivered or already reversed),
behind a confirmation with the biller's refund reference and a reason; refusals are
shown as 4xx and audited; the reversal and its audit row commit together."""

from __future__ import annotations

import re

from tests.integration.test_console_tables import audited, console_as, query
from tests.support.console import csrf_of
from tests.support.promotions import airtime_rule, deliver, fund_promotions, hold_bill
from tests.support.wallets import fund, phone_of, register, registration_secrets, wallet_balance

KES = 100


def test_an_operator_reverses_a_refunded_bill_from_its_transaction(
    live_server, live_settings, clean_database
):
    db = clean_database
    box, pin_hash = registration_secrets(live_settings)
    user = register(db, box, pin_hash, phone=phone_of(1), name="Jane Wanjiku")
    fund(db, phone_of(1), 1_000 * KES)
    airtime_rule(db, rate_bp=100, cap=100 * KES)
    fund_promotions(db, 100 * KES)
    bill = hold_bill(live_settings, db, user, phone_of(1), 300 * KES)
    deliver(db, bill)
    [(paid,)] = query(
        db, "SELECT outcome_id FROM bill_payments WHERE reference = %(r)s", {"r": bill}
    )
    viewer = console_as(live_server, live_settings, db, "viewer")
    operator = console_as(live_server, live_settings, db, "operator")

    page = f"/console/transactions/{paid}"
    assert bill in viewer.get(page).text and "reverse-bill" not in viewer.get(page).text
    assert viewer.get(f"{page}/reverse-bill").status_code == 403
    detail = operator.get(page).text
    assert f'href="{page}/reverse-bill"' in detail
    assert f'href="{page}/reverse"' not in detail  # not as a plain transaction
    confirm = operator.get(f"{page}/reverse-bill")
    assert confirm.status_code == 200 and "Confirm bill reversal" in confirm.text
    csrf = csrf_of(confirm.text)
    good = {
        "csrf": csrf,
        "confirm": "yes",
        "reason": "airtime reversed",
        "refund_reference": "SAF-1",
    }
    for form, status, code in (
        ({**good, "confirm": "no"}, 422, "not_confirmed"),
        ({**good, "reason": ""}, 422, "invalid_reason"),
        ({**good, "refund_reference": "no spaces"}, 422, "invalid_refund_reference"),
        ({**good, "csrf": "forged"}, 403, ""),
    ):
        answer = operator.post(f"{page}/reverse-bill", data=form)
        assert answer.status_code == status and code in answer.text, (form, answer.text)
    assert wallet_balance(db, user) == 700 * KES + 3 * KES  # nothing moved yet

    done = operator.post(f"{page}/reverse-bill", data=good)
    assert done.status_code == 200 and "Bill reversed" in done.text, done.text
    reversal = int(re.search(r"/console/transactions/(\d+)\?reversed=bill", str(done.url))[1])
    assert "bill_reversal" in done.text and "Reverse…" not in done.text
    assert wallet_balance(db, user) == 1_000 * KES
    assert "reversed" in operator.get(page).text
    assert "reverse-bill" not in operator.get(page).text  # reversed once: not offered again
    again = operator.post(f"{page}/reverse-bill", data=good)  # the same form: the same answer
    assert again.status_code == 200 and f"/console/transactions/{reversal}" in str(again.url)
    other = operator.post(f"{page}/reverse-bill", data={**good, "refund_reference": "SAF-2"})
    assert other.status_code == 409 and "idempotency_key_reused" in other.text
    # A transaction that delivered no bill has no bill to reverse.
    assert operator.get(f"/console/transactions/{reversal}/reverse-bill").status_code == 404
    rows = audited(db, "console_reverse_bill")
    assert [row[4] for row in rows] == ["refused"] * 4 + ["done", "done", "refused"]
    _, target_kind, target, reason, _, detail = rows[4]
    assert (target_kind, target, reason) == ("transaction", str(paid), "airtime reversed")
    assert detail["committed_with_action"] is True and detail["refund_reference"] == "SAF-1"
    viewer.close()
    operator.close()
