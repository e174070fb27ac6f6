"""Deposit and Withdraw over USSD: the M-Pesa branch of the menu."""
