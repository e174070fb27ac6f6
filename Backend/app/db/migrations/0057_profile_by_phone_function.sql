-- The USSD first hop's read of a caller no cache knows (issue 18; docs/benchmarks.md,
-- "The collector and the USSD hop"): the user and their wallet by phone, as
-- UserRepository.get_with_wallet_by_phone sent it, in a PL/pgSQL function so that the
-- backend keeps its plan for the session (sent as text, the two-table join was planned
-- again on every hop: 0.09 ms, four times its execution). Safe behind PgBouncer in
-- transaction mode, where PREPARE is not.
CREATE FUNCTION user_with_wallet_by_phone(p_phone TEXT)
RETURNS TABLE (id BIGINT, paytrace_id TEXT, phone TEXT, full_name TEXT, role TEXT,
               language TEXT, registration_key TEXT, created_at TIMESTAMPTZ,
               stellar_address TEXT, activation_status TEXT)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
    SELECT u.id, u.paytrace_id, u.phone, u.full_name, u.role, u.language,
           u.registration_key, u.created_at, w.stellar_address, w.activation_status
    FROM users u JOIN wallets w ON w.user_id = u.id
    WHERE u.phone = p_phone;
END;
$$;
