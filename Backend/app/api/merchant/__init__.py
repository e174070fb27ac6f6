"""The merchant API, /api/v1/merchant: every request signed with a merchant's API key
(PayTrace-Signature, see app/services/merchant_signatures.py and docs/merchants.md)."""
