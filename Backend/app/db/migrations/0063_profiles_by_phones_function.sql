-- The USSD first hop's reads of callers no cache knows, several in one statement
-- (issue 18; docs/benchmarks.md, "First hops' profile reads, coalesced"). Concurrent
-- first hops' reads are gathered while one is out (app/infra/coalesced_reads.py) and
-- sent together: the users and their wallets by phone, as user_with_wallet_by_phone
-- (0057) reads one, in a PL/pgSQL function whose plan the backend keeps. A phone with
-- no user has no row.
CREATE FUNCTION users_with_wallet_by_phones(p_phones TEXT[])
RETURNS TABLE (id BIGINT, paytrace_id TEXT, phone TEXT, full_name TEXT, role TEXT,
               language TEXT, registration_key TEXT, created_at TIMESTAMPTZ,
               stellar_address TEXT, activation_status TEXT)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
    SELECT u.id, u.paytrace_id, u.phone, u.full_name, u.role, u.language,
           u.registration_key, u.created_at, w.stellar_address, w.activation_status
    FROM users u JOIN wallets w ON w.user_id = u.id
    WHERE u.phone = ANY (p_phones);
END;
$$;
