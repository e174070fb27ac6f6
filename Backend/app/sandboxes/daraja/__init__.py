"""PayTrace's local Daraja-compatible M-Pesa sandbox - a development tool only.

A separate ASGI app (default 127.0.0.1:8020) that PayTrace's M-Pesa adapter talks to
over real HTTP as it talks to Safaricom's Daraja: OAuth, STK push and query, B2C
(v1 and v3) and transaction status, with Daraja's field names, codes and errors. It
POSTs real-shaped callbacks to the request's CallBackURL / ResultURL /
QueueTimeOutURL after a short delay, and does what its scenario rules say (per phone
number or amount: success, cancelled, timeout, wrong PIN, insufficient funds; the
callback once, twice or never). State persists in SQLite under a data directory.

    python -m app.sandboxes.daraja --port 8020 --data-dir .data/daraja-sandbox
    create_app(data_dir, SandboxConfig(callback_delay_s=...))
"""

from app.sandboxes.daraja.app import create_app
from app.sandboxes.daraja.config import SandboxConfig

__all__ = ["SandboxConfig", "create_app"]
