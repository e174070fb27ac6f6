"""The Harambee branch of the USSD menu: its screens, handlers, texts and port."""
