"""My account > Scheduled payments on USSD."""
