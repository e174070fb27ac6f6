-- Activation joins the settler's rounds: up to 18 wallets per Stellar transaction,
-- sourced by a channel account, instead of one wallet per treasury transaction
-- through the outbox (about one activation per ledger close). The queue is the
-- wallets themselves: 'pending' and no envelope in flight.
ALTER TABLE stellar_transactions DROP CONSTRAINT stellar_transactions_purpose_check;
ALTER TABLE stellar_transactions ADD CONSTRAINT stellar_transactions_purpose_check
    CHECK (purpose IN ('activation', 'settlement', 'activations'));

-- The envelope activating the wallet, while it is in flight (cleared if it dies).
ALTER TABLE wallets ADD COLUMN activation_envelope_id BIGINT
    REFERENCES stellar_transactions (id);
CREATE INDEX wallets_pending_activation_idx ON wallets (id)
    WHERE activation_status = 'pending';

-- Activation rows the outbox worker no longer performs: the settler activates every
-- pending wallet.
UPDATE outbox SET status = 'done', last_error = 'activation moved to the settler',
                  updated_at = now()
WHERE kind = 'stellar' AND status IN ('pending', 'sending')
  AND payload->>'action' = 'activate';
