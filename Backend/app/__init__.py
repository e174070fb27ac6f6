"""PayTrace: USSD-first mobile money with Stellar custody."""
