"""PayTrace's services as both channels call them: one async facade.

The services are synchronous (psycopg2 and argon2 block), the channels are async.
Every channel call goes through `ChannelServices`: `run` hands a service function a
fresh unit of work in the thread pool, and every call that checks or hashes a PIN
takes its turn under one semaphore per process, USSD and REST alike, on the PIN
pool's threads (one per core, below the event loop's priority: app/infra/pin_pool.py),
so argon2 uses every core and never makes a navigation hop wait.

The methods take the services' own request types and return their own result types
(`TransferRequest` → `Movement`, `Profile`, `Quote`...): a channel renders those, it
never copies them. Adding a field to a request touches the service and the line in
each channel that builds the request; nothing here.

USSD's port (`app.ussd.ports.UssdServices`) is the subset of these methods the menus
call, which its unit-test fake also implements.


It is the one list of what a channel may call, each with the refusals it raises: a
channel reads it, not the services behind it. Each area's methods live in a module of
their own under app/services/channel/ (calling.py: what every area shares and the two
ways to call a service; callers.py, send_money.py, merchant_payments.py, bills.py,
mpesa.py, wallet.py, harambee.py, schedules.py, wages.py), composed here into the one
class both channels import.
"""

from __future__ import annotations

from app.services.channel.bills import BillServices
from app.services.channel.callers import CallerServices
from app.services.channel.calling import USSD_LOOKUP_TIMEOUT_S, USSD_LOOKUP_WAIT_S
from app.services.channel.harambee import HarambeeServices
from app.services.channel.merchant_payments import MerchantPaymentServices
from app.services.channel.mpesa import MpesaServices
from app.services.channel.schedules import ScheduleServices
from app.services.channel.send_money import SendMoneyServices
from app.services.channel.wages import WageServices
from app.services.channel.wallet import WalletServices

__all__ = ["USSD_LOOKUP_TIMEOUT_S", "USSD_LOOKUP_WAIT_S", "ChannelServices"]


class ChannelServices(
    CallerServices,
    SendMoneyServices,
    MerchantPaymentServices,
    BillServices,
    MpesaServices,
    WalletServices,
    HarambeeServices,
    ScheduleServices,
    WageServices,
):
    """Every call both channels make, area by area (app/services/channel/)."""
