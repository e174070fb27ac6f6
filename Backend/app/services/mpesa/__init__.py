"""M-Pesa: deposits (STK push), withdrawals (B2C) and the callbacks that settle them."""
