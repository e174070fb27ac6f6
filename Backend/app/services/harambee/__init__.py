"""Harambee: campaigns with their own escrow accounts, contributions, pledges.

Every function takes plain values and a unit of work, as the other services do:
the REST API and USSD call the same ones. Money moves only as ledger movements
(app.services.ledger): contributions into a campaign's escrow, its payout to the
organiser when closed, refunds to each contributor when cancelled.
"""
