-- Refunds of pay orders paid from M-Pesa or Stellar, back through the rail they came
-- by (docs/merchants.md, "Refunds through the rail"); and the deposits' receipts, which
-- a C2B confirmation is checked against (docs/mpesa.md).

-- A C2B confirmation carrying a deposit's receipt is refused: looked up by receipt.
CREATE INDEX mpesa_deposits_receipt_idx ON mpesa_deposits (receipt) WHERE receipt IS NOT NULL;
