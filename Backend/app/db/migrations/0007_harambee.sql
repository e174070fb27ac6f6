-- Harambee: community fundraising campaigns, their contributions and pledges.
--
-- Each campaign holds its money in its own escrow ledger account (kind 'campaign',
-- never below zero), so what it has raised is that account's balance: read from
-- the ledger, never a counter beside it. On Stellar a campaign's money lives with
-- the treasury, like the fee shards: a contribution settles as a payment from the
-- contributor to the treasury, a payout or a refund as one from the treasury.
ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_kind_check;
ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_kind_check
    CHECK (kind IN ('wallet', 'fees', 'mpesa_float', 'suspense', 'stellar_clearing',
                    'campaign'));

-- contribution: a wallet into a campaign's escrow (paying now or toward a pledge);
-- campaign_payout: the escrow to its organiser when the campaign is closed;
-- campaign_refund: the escrow back to one contributor when it is cancelled.
ALTER TABLE journal_transactions DROP CONSTRAINT journal_transactions_kind_check;
ALTER TABLE journal_transactions ADD CONSTRAINT journal_transactions_kind_check
    CHECK (kind IN ('transfer', 'cash_in', 'reversal', 'contribution', 'campaign_payout',
                    'campaign_refund'));

CREATE TABLE campaigns (
    id            BIGSERIAL   PRIMARY KEY,
    -- Typed on a keypad to find the campaign: six digits, never a leading zero.
    code          TEXT        NOT NULL UNIQUE CHECK (code ~ '^[1-9][0-9]{5}$'),
    title         TEXT        NOT NULL CHECK (length(title) BETWEEN 3 AND 40),
    description   TEXT        NOT NULL DEFAULT '' CHECK (length(description) <= 500),
    target_amount BIGINT      NOT NULL CHECK (target_amount > 0),
    currency      TEXT        NOT NULL DEFAULT 'KES' CHECK (currency = 'KES'),
    organiser_id  BIGINT      NOT NULL REFERENCES users (id),
    -- The escrow: what the campaign holds is this account's balance.
    account_id    BIGINT      NOT NULL UNIQUE REFERENCES ledger_accounts (id),
    -- The last Nairobi day it takes money; none: until it is closed.
    end_date      DATE,
    -- 'funded' is not stored: an active campaign whose escrow holds its target is.
    status        TEXT        NOT NULL DEFAULT 'active'
                  CHECK (status IN ('active', 'closed', 'cancelled')),
    -- The channel request that started it: a retried start finds its campaign.
    creation_key  TEXT        NOT NULL UNIQUE CHECK (length(creation_key) BETWEEN 1 AND 200),
    request_hash  TEXT        NOT NULL,
    -- The movement that paid the escrow out to the organiser (closed campaigns).
    payout_id     BIGINT      UNIQUE REFERENCES journal_transactions (id),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    ended_at      TIMESTAMPTZ,
    CHECK ((status = 'active') = (ended_at IS NULL)),
    CHECK (payout_id IS NULL OR status = 'closed')
);
CREATE INDEX campaigns_organiser_idx ON campaigns (organiser_id, id);
CREATE INDEX campaigns_active_idx ON campaigns (id) WHERE status = 'active';

-- A promise to pay a campaign by a date. What has been paid toward it, and so its
-- status (pledged, partially_paid, fulfilled, overdue), is read from the
-- contributions that name it; only a cancellation is stored.
CREATE TABLE pledges (
    id           BIGSERIAL   PRIMARY KEY,
    campaign_id  BIGINT      NOT NULL REFERENCES campaigns (id),
    user_id      BIGINT      NOT NULL REFERENCES users (id),
    amount       BIGINT      NOT NULL CHECK (amount > 0),
    due_date     DATE        NOT NULL,
    is_anonymous BOOLEAN     NOT NULL DEFAULT false,
    message      TEXT        CHECK (length(message) <= 100),
    creation_key TEXT        NOT NULL UNIQUE CHECK (length(creation_key) BETWEEN 1 AND 200),
    request_hash TEXT        NOT NULL,
    cancelled_at TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX pledges_user_idx ON pledges (user_id, id);
CREATE INDEX pledges_campaign_idx ON pledges (campaign_id, id);

-- What the journal does not say about a contribution: the campaign and the
-- contributor are in its legs too, kept here for lookups; the amount, reference
-- and time are the journal transaction's own.
CREATE TABLE campaign_contributions (
    id             BIGSERIAL PRIMARY KEY,
    transaction_id BIGINT    NOT NULL UNIQUE REFERENCES journal_transactions (id),
    campaign_id    BIGINT    NOT NULL REFERENCES campaigns (id),
    user_id        BIGINT    NOT NULL REFERENCES users (id),
    pledge_id      BIGINT    REFERENCES pledges (id),
    is_anonymous   BOOLEAN   NOT NULL DEFAULT false,
    message        TEXT      CHECK (length(message) <= 100)
);
CREATE INDEX campaign_contributions_campaign_idx ON campaign_contributions (campaign_id, id);
CREATE INDEX campaign_contributions_user_idx ON campaign_contributions (user_id, campaign_id);
CREATE INDEX campaign_contributions_pledge_idx ON campaign_contributions (pledge_id)
    WHERE pledge_id IS NOT NULL;
