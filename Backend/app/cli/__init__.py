"""Command-line programs: the development server, the terminal phone and the operator
commands (rotate keys, Stellar set-up, reconciliations). Each is run with
`python -m app.cli.<name>` (the Makefile names them) and, like every entry point,
parses, calls services and prints; nothing imports them but their tests.
"""
