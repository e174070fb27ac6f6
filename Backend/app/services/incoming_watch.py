"""Which accounts the incoming watcher follows on the network, and where it starts in
each: the treasury and every wallet, one cursor per account (stellar_cursors, named
`account:<address>`).

An account's own history is short and starts when it was created, so a new account's
cursor starts at its beginning ("0"). A PayTrace that watched the network's global
`/payments` before (cursor `payments`) recorded everything up to that cursor: each
account then starts there, and nothing is read twice.
"""

from __future__ import annotations

from app.db.unit_of_work import UnitOfWork
from app.services.incoming_payments import CURSOR_NAME

ACCOUNT_CURSOR = "account:"
FROM_THE_START = "0"


def account_cursor(address: str) -> str:
    """The name of the cursor in one account's payments."""
    return f"{ACCOUNT_CURSOR}{address}"


def wallets_after(uow: UnitOfWork, wallet_id: int, limit: int) -> list[tuple[int, str]]:
    """(wallet id, address) of the wallets created after wallet_id, oldest first."""
    with uow:
        return uow.incoming.wallets_after(wallet_id, limit)


def account_start(uow: UnitOfWork, address: str) -> str:
    """The stored cursor in address's payments, stored first (where the network's
    cursor stood, or from the start) when the watcher has never read them."""
    name = account_cursor(address)
    with uow:
        stored = uow.incoming.cursor(name)
        if stored is not None:
            return stored
        start = uow.incoming.cursor(CURSOR_NAME) or FROM_THE_START
        stored = uow.incoming.start_cursor(name, start)
        uow.commit()
    return stored
