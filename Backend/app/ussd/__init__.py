"""USSD entrypoint: Africa's Talking hops in, CON/END screens out."""
