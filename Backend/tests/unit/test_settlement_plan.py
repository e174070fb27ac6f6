"""The settlement plan's rules, on hand-made movements (no database, no network)."""

from __future__ import annotations

from app.db.repositories.settlements import OpenSettlement, SettlementLeg
from app.services.settlement_plan import MAX_PAYER_SIGNERS, payments_for, plan


def wallet(party: int, amount: int, *, active: bool = True) -> SettlementLeg:
    return SettlementLeg(amount, party, f"G{party:055d}", active)


def treasury(amount: int) -> SettlementLeg:
    return SettlementLeg(amount, 0, None, True)


def issuer(amount: int) -> SettlementLeg:
    return SettlementLeg(amount, None, None, True)


def movement(tx_id: int, *legs: SettlementLeg) -> OpenSettlement:
    nets: dict = {}
    for leg in legs:
        nets[leg.party] = nets.get(leg.party, 0) + leg.amount
    parties = frozenset(p for p, n in nets.items() if p is not None and n)
    payers = frozenset(p for p, n in nets.items() if p is not None and n < 0)
    return OpenSettlement(tx_id, "pending", payers, parties, legs, None)


def test_a_transfer_pays_the_recipient_and_the_fee_to_the_treasury():
    payments = payments_for(movement(1, wallet(1, -1050), wallet(2, 1000), treasury(50)))
    assert [(p.payer.party, p.payee.party, p.cents) for p in payments] == [
        (1, 2, 1000),
        (1, 0, 50),
    ]


def test_a_cash_in_is_minted_by_the_issuer():
    payments = payments_for(movement(1, issuer(-500), wallet(3, 500)))
    assert [(p.payer.party, p.payee.party, p.cents) for p in payments] == [(None, 3, 500)]


def test_a_movement_spending_what_an_earlier_one_brings_joins_its_transaction():
    first = movement(1, wallet(1, -100), wallet(2, 100))
    second = movement(2, wallet(2, -100), wallet(3, 100))
    unrelated = movement(3, wallet(4, -5), wallet(5, 5))
    batches, _ = plan([first, second, unrelated], set(), max_batches=4)
    ids = [[s.transaction_id for s in b.settlements] for b in batches]
    assert [1, 2] in [ids_[:2] for ids_ in ids]  # 2 after 1, in one transaction


def test_a_payer_with_a_movement_in_flight_waits_and_so_do_later_ones_touching_it():
    waiting = movement(5, wallet(2, -100), wallet(3, 100))
    after = movement(6, wallet(3, -50), wallet(4, 50))
    free = movement(7, wallet(8, -1), wallet(9, 1))
    batches, _ = plan([waiting, after, free], {2}, max_batches=4)
    planned = {s.transaction_id for b in batches for s in b.settlements}
    assert planned == {7}


def test_a_wallet_not_yet_on_chain_holds_its_movements_back():
    first = movement(1, issuer(-100), wallet(1, 100, active=False))
    later = movement(2, wallet(1, -100), wallet(2, 100))
    batches, _ = plan([first, later], set(), max_batches=4)
    assert batches == []


def test_batches_respect_the_signature_limit():
    movements = [movement(n, wallet(100 + n, -1), wallet(500 + n, 1)) for n in range(40)]
    batches, _ = plan(movements, set(), max_batches=10)
    assert all(len(b.signers) <= MAX_PAYER_SIGNERS for b in batches)
    assert sum(len(b.settlements) for b in batches) == 40
