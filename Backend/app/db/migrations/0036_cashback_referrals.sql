-- Cashback on bills and referral bonuses (docs/bills.md), both paid from one funded
-- promotions account that never goes below zero; and bills and airtime as kinds of a
-- scheduled payment (docs/schedules.md).

-- promotions: what PayTrace has set aside for cashback and referral bonuses, funded
-- from the M-Pesa float by an operator ('promotions_funding').
ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_kind_check;
ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_kind_check
    CHECK (kind IN ('wallet', 'fees', 'mpesa_float', 'suspense', 'stellar_clearing',
                    'campaign', 'mpesa_hold', 'merchant', 'bill_hold', 'bill_clearing',
                    'stellar_hold', 'wage_hold', 'wage_dues', 'promotions'));

CREATE OR REPLACE FUNCTION paytrace_seed_system_accounts() RETURNS void
LANGUAGE sql AS $$
    INSERT INTO ledger_accounts (kind, code)
    SELECT 'fees', 'fees:' || shard FROM generate_series(0, 15) AS shard
    UNION ALL
    SELECT 'mpesa_hold', 'mpesa_hold:' || shard FROM generate_series(0, 15) AS shard
    UNION ALL
    SELECT 'bill_hold', 'bill_hold:' || shard FROM generate_series(0, 15) AS shard
    UNION ALL
    VALUES ('mpesa_float', 'mpesa_float'), ('suspense', 'suspense'),
           ('stellar_clearing', 'stellar_clearing'),
           ('bill_clearing', 'bill_clearing:at_airtime'),
           ('bill_clearing', 'bill_clearing:daraja_b2b'),
           ('mpesa_hold', 'mpesa_owed_back'),
           ('stellar_hold', 'stellar_refund_hold'),
           ('promotions', 'promotions')
    ON CONFLICT (code) DO NOTHING;
$$;

SELECT paytrace_seed_system_accounts();

-- promotions_funding: the M-Pesa float to the promotions account (an operator);
-- cashback: promotions to a wallet, in the transaction that delivers the bill;
-- referral_bonus: promotions to the wallet of whoever invited a new user, in the
-- transaction that credits the new user's first deposit.
ALTER TABLE journal_transactions DROP CONSTRAINT journal_transactions_kind_check;
ALTER TABLE journal_transactions ADD CONSTRAINT journal_transactions_kind_check
    CHECK (kind IN ('transfer', 'cash_in', 'reversal', 'contribution', 'campaign_payout',
                    'campaign_refund', 'deposit', 'withdrawal', 'withdrawal_payout',
                    'withdrawal_release', 'merchant_payment', 'merchant_refund',
                    'stellar_order_payment', 'bill_hold', 'bill_payment', 'bill_release',
                    'mpesa_order_payment', 'mpesa_owed_back', 'mpesa_order_returned',
                    'stellar_order_refund', 'stellar_order_refund_sent',
                    'stellar_order_refund_release', 'wage_hold', 'wage_payment',
                    'wage_release', 'promotions_funding', 'cashback', 'referral_bonus'));

-- A cashback rule: for one biller, or every biller of a category (a biller's own rule
-- wins), from valid_from to valid_until (Nairobi days, both inclusive; NULL: open);
-- of the rules valid on a day, the newest applies. What one user earns under it in a
-- Nairobi month is at most monthly_cap.
CREATE TABLE cashback_rules (
    id          BIGSERIAL   PRIMARY KEY,
    name        TEXT        NOT NULL CHECK (length(name) BETWEEN 2 AND 60),
    biller_id   BIGINT      REFERENCES billers (id),
    category    TEXT        CHECK (category IN ('electricity', 'water', 'tv', 'airtime')),
    monthly_cap BIGINT      NOT NULL CHECK (monthly_cap > 0),
    valid_from  DATE        NOT NULL,
    valid_until DATE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((biller_id IS NULL) <> (category IS NULL)),
    CHECK (valid_until IS NULL OR valid_until >= valid_from)
);
CREATE INDEX cashback_rules_biller_idx ON cashback_rules (biller_id) WHERE biller_id IS NOT NULL;

-- A rule's amount tiers: a bill of min_amount..max_amount cents (both inclusive) earns
-- rate_bp basis points of its amount (rounded down to the cent); an amount no tier
-- covers earns nothing.
CREATE TABLE cashback_tiers (
    rule_id    BIGINT  NOT NULL REFERENCES cashback_rules (id),
    min_amount BIGINT  NOT NULL CHECK (min_amount > 0),
    max_amount BIGINT  NOT NULL,
    rate_bp    INTEGER NOT NULL CHECK (rate_bp BETWEEN 1 AND 10000),
    PRIMARY KEY (rule_id, min_amount),
    CHECK (max_amount >= min_amount)
);

-- Cashback paid: one per delivered bill at most, counted against its rule's cap for
-- the user's month (the first day of the Nairobi month).
CREATE TABLE cashback_awards (
    id              BIGSERIAL   PRIMARY KEY,
    bill_payment_id BIGINT      NOT NULL UNIQUE REFERENCES bill_payments (id),
    rule_id         BIGINT      NOT NULL REFERENCES cashback_rules (id),
    user_id         BIGINT      NOT NULL REFERENCES users (id),
    month           DATE        NOT NULL CHECK (extract(day FROM month) = 1),
    amount          BIGINT      NOT NULL CHECK (amount > 0),
    transaction_id  BIGINT      NOT NULL UNIQUE REFERENCES journal_transactions (id),
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX cashback_awards_month_idx ON cashback_awards (user_id, rule_id, month);

-- The referral programme: a bonus to whoever invited a new user, paid when the new
-- user's first deposit is credited, while the budget lasts (spent never exceeds it).
-- Of the programmes valid on a day (Nairobi, both ends inclusive), the newest applies.
CREATE TABLE referral_programs (
    id          BIGSERIAL   PRIMARY KEY,
    bonus       BIGINT      NOT NULL CHECK (bonus > 0),
    budget      BIGINT      NOT NULL CHECK (budget > 0),
    spent       BIGINT      NOT NULL DEFAULT 0 CHECK (spent >= 0),
    valid_from  DATE        NOT NULL,
    valid_until DATE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (spent <= budget),
    CHECK (valid_until IS NULL OR valid_until >= valid_from)
);

-- Who invited a number first (Send money's invitation SMS): the referrer of the user
-- who registers with it. Decided once, at that user's first deposit: 'paid' (the
-- bonus's transaction), or why not ('no_programme', 'budget_spent', 'promotions_empty').
CREATE TABLE referrals (
    invitee_phone    TEXT        PRIMARY KEY CHECK (invitee_phone ~ '^\+[1-9][0-9]{6,14}$'),
    referrer_user_id BIGINT      NOT NULL REFERENCES users (id),
    invited_at       TIMESTAMPTZ NOT NULL,
    referred_user_id BIGINT      UNIQUE REFERENCES users (id),
    outcome          TEXT        CHECK (outcome IN ('paid', 'no_programme', 'budget_spent',
                                                    'promotions_empty')),
    program_id       BIGINT      REFERENCES referral_programs (id),
    transaction_id   BIGINT      UNIQUE REFERENCES journal_transactions (id),
    decided_at       TIMESTAMPTZ,
    CHECK ((outcome IS NULL) = (decided_at IS NULL)),
    CHECK ((outcome = 'paid') = (transaction_id IS NOT NULL)),
    CHECK (outcome IS NULL OR referred_user_id IS NOT NULL)
);
CREATE INDEX referrals_referrer_idx ON referrals (referrer_user_id);

-- Bills and airtime as scheduled payments (services/schedules/bill_executors.py): the
-- payee is '<biller code>:<account>'; each occurrence is held by the worker
-- (channel 'system', no PIN: the owner gave it when scheduling).
ALTER TABLE scheduled_payments DROP CONSTRAINT scheduled_payments_kind_check;
ALTER TABLE scheduled_payments ADD CONSTRAINT scheduled_payments_kind_check
    CHECK (kind IN ('transfer', 'bill', 'airtime'));
ALTER TABLE bill_payments DROP CONSTRAINT bill_payments_channel_check;
ALTER TABLE bill_payments ADD CONSTRAINT bill_payments_channel_check
    CHECK (channel IN ('ussd', 'api', 'system'));
