"""The operator console (/console): server-rendered pages for people, beside the admin
API for scripts. An entry point like app/api: it parses, calls one service, renders."""
