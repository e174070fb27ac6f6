-- PIN locks that escalate, sign-in codes that a stranger cannot spend, and a daily
-- cap on the invitation SMS one user can make PayTrace pay for.

-- Locks since the last right PIN (or reset): each repeated lock lasts longer, and
-- past PIN_TIMED_LOCKS the PIN waits for an operator or an SMS-code reset.
ALTER TABLE user_credentials
    ADD COLUMN lock_count     INTEGER NOT NULL DEFAULT 0 CHECK (lock_count >= 0),
    ADD COLUMN reset_required BOOLEAN NOT NULL DEFAULT false;

-- A code of its own for resetting a forgotten or reset-required PIN.
ALTER TABLE api_otps DROP CONSTRAINT api_otps_purpose_check;
ALTER TABLE api_otps ADD CONSTRAINT api_otps_purpose_check
    CHECK (purpose IN ('login', 'register', 'pin_reset'));

-- Wrong codes per code and client address: a stranger's junk from one address
-- kills the code for that address only (api_otps.attempts still caps the total).
CREATE TABLE api_otp_failures (
    otp_id   BIGINT  NOT NULL REFERENCES api_otps (id) ON DELETE CASCADE,
    address  TEXT    NOT NULL,
    failures INTEGER NOT NULL CHECK (failures > 0),
    PRIMARY KEY (otp_id, address)
);

-- Invitation SMS each user queued per Nairobi day, across every number.
CREATE TABLE invitation_counts (
    sender_user_id BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    day            DATE    NOT NULL,
    sent           INTEGER NOT NULL CHECK (sent > 0),
    PRIMARY KEY (sender_user_id, day)
);
