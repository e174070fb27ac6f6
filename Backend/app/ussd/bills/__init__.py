"""Pay a bill: Pay's Bills / Airtime branch (docs/bills.md)."""
