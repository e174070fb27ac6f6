"""How a pay order's payer from a rail is kept on its merchant_payments row: an M-Pesa
phone only masked, M-Pesa's first name trimmed to what the column takes, a Stellar
sender as it is."""

from __future__ import annotations

import re

from app.domain.records.merchants import RailPayer
from app.services.merchant_payments.rail_payments import mpesa_payer, stellar_payer

SENDER = "G" + "A" * 55


def test_an_m_pesa_payer_is_kept_with_the_phone_masked():
    payer = mpesa_payer("SAB1234567", "+254712000777", "Jane")
    assert payer == RailPayer("SAB1234567", "+2547****0777", "Jane")
    # The column's CHECK: never five digits in a row.
    assert payer.payer is not None and not re.search(r"[0-9]{5}", payer.payer)


def test_an_m_pesa_payer_without_a_whole_number_or_a_name_keeps_neither():
    assert mpesa_payer("SAB1234567", None, "  ") == RailPayer("SAB1234567", None, None)
    assert mpesa_payer("SAB1234567", None, None).payer_name is None


def test_m_pesa_s_name_is_trimmed_to_what_the_column_takes():
    payer = mpesa_payer("SAB1234567", None, " " + "N" * 150 + " ")
    assert payer.payer_name == "N" * 100


def test_a_stellar_payer_is_its_transaction_and_sender():
    assert stellar_payer("ab" * 32, SENDER) == RailPayer("ab" * 32, SENDER, None)
