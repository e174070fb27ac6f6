-- A transaction status answer can reach PayTrace before PayTrace has committed its
-- record of the query it answers (M-Pesa answered while the worker was still writing
-- its question down). Such an answer is stored as 'unknown_request' naming the query's
-- ConversationID; whoever records a query then looks for answers that came early
-- (services/mpesa/inbound.py answer_early). This index finds them without reading every
-- callback ever received: it holds only the few that matched nothing.
CREATE INDEX inbound_callbacks_unmatched_idx ON inbound_callbacks (reference)
    WHERE outcome = 'unknown_request';
