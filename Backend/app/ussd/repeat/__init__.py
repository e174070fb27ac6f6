"""'9. Repeat monthly' on the confirmation of Send money, Buy airtime and Pay a bill."""
