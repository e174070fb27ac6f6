"""Paying a merchant's till: a wallet to the merchant's account, the merchant's fee to
PayTrace, SMS to the payer and to the merchant.

The payer pays no fee: the merchant's fee (its own rule, `FeeRule`) is taken from the
merchant's account into a fees shard in the same journal transaction, so the legs are
payer -amount, merchant +amount, merchant -fee, fees +fee. The fee is never more than
the payment, so a payment can never take a merchant account below zero.

A payment is a ledger movement like Send money: one transaction locks the payer's
wallet, the merchant's account and a fees shard in the lock order, reads the key and the
outflows after the locks, checks the tier limits and the balance, posts, records the
payment (`merchant_payments`), commits. The merchant's account is a hot row (every
payer pays into it), so nothing else happens while its lock is held.

A payment names its merchant by till, or by a pay order's code
(`MerchantPaymentRequest.order_code`): then the order's row is locked FIRST, before the
accounts (the lock order: order row, then accounts in the lock order, so payers of one order
queue on its row holding no account lock and cannot deadlock), its merchant and amount
are the payment's, and it is marked paid in the same transaction (docs/merchants.md,
"Paying a pay order"). `payments._pay_once` is the movement both share.

`tills.py`: finding the merchant at a till and quoting a payment (no money moves);
`payments.py`: the payment itself; `rail_payments.py`: the row of a pay order paid from
M-Pesa or Stellar (no wallet payer).
"""
