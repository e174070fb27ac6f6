"""HTTP plumbing both web entry points share (`api/` and `ussd/`'s POST /ussd): the
error body, body caps, the client's address and token comparison. No business rules,
and nothing here imports an entry point, so either can use it without importing the
other.
"""
