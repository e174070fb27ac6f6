-- One read of profiles by phone (issue 18): a single phone is now read by 0063's
-- users_with_wallet_by_phones as an array of one (UserRepository.get_with_wallet_by_phone:
-- the console's and the admin API's look-ups), the same function the USSD first hops'
-- gathered reads use, so 0057's single-phone function is dropped.
DROP FUNCTION user_with_wallet_by_phone(TEXT);
