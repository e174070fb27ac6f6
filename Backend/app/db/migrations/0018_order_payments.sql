-- Paying a pay order (docs/merchants.md, "Paying a pay order"): a payment toward an
-- order names it. At most one payment per order: the order's row lock lets one payment
-- through and the trigger on pay_orders refuses a second `paid`; this index is the
-- backstop on this side.
ALTER TABLE merchant_payments ADD COLUMN order_id BIGINT REFERENCES pay_orders (id);
CREATE UNIQUE INDEX merchant_payments_order_idx ON merchant_payments (order_id)
    WHERE order_id IS NOT NULL;
