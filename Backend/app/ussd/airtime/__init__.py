"""Buy airtime: Pay's airtime branch (docs/bills.md)."""
