-- The id of the request that wrote an outbox row (app/infra/request_context.py): each
-- transaction opened for a request carries it as `paytrace.request_id`, and a row takes
-- it by default, so the worker logs the row's work under the same id.
ALTER TABLE outbox ADD COLUMN request_id TEXT
    DEFAULT nullif(current_setting('paytrace.request_id', true), '')
    CHECK (request_id ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{7,127}$');
