"""Bills and airtime (docs/bills.md): the catalogue, paying a bill (the hold), the rail's
answers and the two endings."""
