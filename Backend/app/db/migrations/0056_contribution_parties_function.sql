-- The read before a contribution (ContributionRepository.parties: the campaign's head,
-- its organiser and the contributor, for the SMS) as a PL/pgSQL function, for the
-- reason 0055 gives for a transfer's: sent as text, its four-way join was planned
-- again on every contribution; a function keeps its plan for the session. The same
-- query, the same row.
CREATE FUNCTION ledger_contribution_parties(
    p_campaign_id BIGINT,
    p_user_id     BIGINT
) RETURNS TABLE (campaign_id BIGINT, campaign_code TEXT, campaign_title TEXT,
                 escrow_id BIGINT, organiser_id BIGINT, organiser_phone TEXT,
                 organiser_language TEXT, contributor_id BIGINT, contributor_name TEXT,
                 contributor_phone TEXT, contributor_language TEXT)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
    SELECT c.id, c.code, c.title, c.account_id, c.organiser_id, o.phone,
           o.language, u.id, u.full_name, u.phone, u.language
    FROM (SELECT 1) AS one
    LEFT JOIN campaigns c ON c.id = p_campaign_id
    LEFT JOIN users o ON o.id = c.organiser_id
    LEFT JOIN users u ON u.id = p_user_id;
END;
$$;
