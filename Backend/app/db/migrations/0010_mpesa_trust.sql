-- M-Pesa callbacks are hints, M-Pesa's answers to PayTrace's own questions are facts.
--
-- confirming: an STK callback arrived for the deposit; PayTrace asks M-Pesa (STK
--   query) before it credits anything or calls it failed.
-- query_errors / last_query_error: STK queries answered with an HTTP error (400, 500,
--   a timeout). They never decide a deposit; after a few, an alert is logged.
ALTER TABLE mpesa_deposits DROP CONSTRAINT mpesa_deposits_status_check;
ALTER TABLE mpesa_deposits ADD CONSTRAINT mpesa_deposits_status_check
    CHECK (status IN ('requested', 'pending', 'confirming', 'completed', 'failed',
                      'disputed', 'unknown'));
ALTER TABLE mpesa_deposits DROP CONSTRAINT mpesa_deposits_check1;
ALTER TABLE mpesa_deposits ADD CONSTRAINT mpesa_deposits_check1
    CHECK (status NOT IN ('pending', 'confirming', 'completed', 'disputed')
           OR checkout_request_id IS NOT NULL);
ALTER TABLE mpesa_deposits
    ADD COLUMN query_errors INTEGER NOT NULL DEFAULT 0 CHECK (query_errors >= 0),
    ADD COLUMN last_query_error TEXT CHECK (length(last_query_error) <= 300);
DROP INDEX mpesa_deposits_open_idx;
CREATE INDEX mpesa_deposits_open_idx ON mpesa_deposits (next_check_at)
    WHERE status IN ('requested', 'pending', 'confirming');

-- Every transaction status query PayTrace made, under the ids Daraja gave it. A
-- status answer is matched to a withdrawal ONLY through this table (never by its
-- Occasion or any other field it carries), and acted on once.
CREATE TABLE mpesa_status_queries (
    id                         BIGSERIAL   PRIMARY KEY,
    withdrawal_id              BIGINT      NOT NULL REFERENCES mpesa_withdrawals (id),
    conversation_id            TEXT        NOT NULL UNIQUE CHECK (length(conversation_id) <= 100),
    originator_conversation_id TEXT        CHECK (length(originator_conversation_id) <= 100),
    asked_at                   TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Set by the first answer acted on; a later answer to the same query is a replay.
    answered_at                TIMESTAMPTZ,
    outcome                    TEXT        CHECK (length(outcome) <= 40)
);
CREATE INDEX mpesa_status_queries_withdrawal_idx ON mpesa_status_queries (withdrawal_id, id);
