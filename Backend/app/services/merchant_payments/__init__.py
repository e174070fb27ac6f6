"""Paying a merchant's till: a wallet to the merchant's account, the merchant's fee to
PayTrace, SMS to the payer and to the merchant.

The payer pays no fee: the merchant's fee (its own rule, `FeeRule`) is taken from the
merchant's account into a fees shard in the same journal transaction, so the legs are
payer -amount, merchant +amount, merchant -fee, fees +fee. The fee is never more than
the payment, so a payment can never take a merchant account below zero.

A payment at a till is a ledger movement like Send money: a read without a lock (the
merchant at the till and the payer), then one statement, `ledger_merchant_pay`
(migration 0061), that locks the payer's wallet, the merchant's account and a fees shard
in the lock order, reads the key and the outflows after the locks, checks the tier
limits and the balance, posts, records the payment (`merchant_payments`) and commits.
The merchant's account is a hot row (every payer pays into it): it is locked last when
it sorts last, and never across a round trip to the client.

A payment names its merchant by till, or by a pay order's code
(`MerchantPaymentRequest.order_code`): then the order's row is locked FIRST, before the
accounts (the lock order: order row, then accounts in the lock order, so payers of one order
queue on its row holding no account lock and cannot deadlock), its merchant and amount
are the payment's, and it is marked paid in the same transaction (docs/merchants.md,
"Paying a pay order"), statement by statement (`payments.pay_by_statements`).

`tills.py`: finding the merchant at a till and quoting a payment (no money moves);
`payments.py`: the payment itself; `rail_payments.py`: the row of a pay order paid from
M-Pesa or Stellar (no wallet payer).
"""
