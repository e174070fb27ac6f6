-- When an operator's second factor was last replaced (a lost phone: the console's TOTP
-- reset). A console session opened before it ends at its next request: whoever held the
-- old phone keeps no way in (app/console/trail.py).
ALTER TABLE operators ADD COLUMN credentials_changed_at TIMESTAMPTZ;
