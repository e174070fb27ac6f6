"""Cashback and referral bonuses, paid from the promotions account (docs/bills.md)."""
