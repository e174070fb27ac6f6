"""One typed Settings object, read from the environment (and `Backend/.env`).

PayTrace runs as production unless told otherwise: an image started with no settings
refuses to start instead of generating secrets and serving sandboxes. `make run` (and
the other development targets) ask for ENVIRONMENT=development; tests set `test`.
Development and test may run with no secrets configured: PayTrace then generates
them once and keeps them in the data directory, so wallets encrypted yesterday can
still be decrypted today. Production refuses to start without real ones, each checked
by app/secret_policy.py.

Long (over 300 lines) because it is one declaration per setting, each with its type,
default and a comment saying what it does: one flat list an operator can read
beside .env.example.
"""

from __future__ import annotations

import json
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import (
    Field,
    IPvAnyNetwork,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from stellar_sdk import Keypair

from app import development_values
from app.domain.bills import AT_AIRTIME, DARAJA_B2B
from app.secret_policy import check_secret

BACKEND_DIR = Path(__file__).resolve().parent.parent

# Secrets that development generates once and keeps in the data directory.
_GENERATED_SECRETS = (
    "pin_pepper",
    "session_secret",
    "admin_token",
    "api_token_secret",
    "mpesa_callback_token",
)
# PayTrace's own Stellar accounts: development makes a keypair for each, its seed
# encrypted under the wallet key like every custodied secret.
_GENERATED_STELLAR_ACCOUNTS = (
    "stellar_issuer_secret",
    "stellar_treasury_secret",
    "stellar_fee_secret",
)
# Secrets production cannot start without (each held to app/secret_policy.py): the
# PIN pepper, the hop-text HMAC key, the access-token key, and the tokens that prove a
# caller of /ussd or of an AT callback is Africa's Talking.
_REQUIRED_SECRETS = (
    "pin_pepper",
    "session_secret",
    "api_token_secret",
    "ussd_callback_token",
    "at_callback_token",
)
# Optional in production (unset turns their edge off, or there is no rotation under
# way), held to the same policy when set.
_OPTIONAL_SECRETS = (
    "admin_token",
    "metrics_token",
    "mpesa_callback_token",
    "ussd_callback_token_previous",
    "at_callback_token_previous",
    "mpesa_callback_token_previous",
)
# What production needs once DARAJA_CONSUMER_KEY turns M-Pesa on.
_DARAJA_REQUIRED = (
    "daraja_base_url",
    "daraja_consumer_secret",
    "daraja_shortcode",
    "daraja_passkey",
    "daraja_b2c_shortcode",
    "daraja_initiator_name",
    "daraja_security_credential",
    "mpesa_callback_token",
)


def _generated(name: str) -> str:
    """A new development secret. The M-Pesa callback token travels in the callback URLs
    Daraja registers, and Daraja refuses a URL with "exe", "cmd", "sql", "query" or
    "mpesa" in it: hex (no x, m, s, q) can spell none of them."""
    return secrets.token_hex(32) if name == "mpesa_callback_token" else secrets.token_urlsafe(32)


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _process_cores() -> int:
    """The cores this process may run on (its CPU affinity, else the machine's)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=BACKEND_DIR / ".env",
        env_file_encoding="utf-8",
        extra="ignore",
        # A refusal at start-up must not print the settings it was given (secrets).
        hide_input_in_errors=True,
    )

    # production unless asked: `make run` and friends say development, tests say test.
    environment: Literal["development", "test", "production"] = "production"
    host: str = "127.0.0.1"
    port: int = 8000
    public_base_url: str = ""
    data_dir: Path = BACKEND_DIR / ".data"
    log_level: str = "INFO"

    # Unset: the development runner starts embedded servers and fills these in.
    database_url: str = ""
    redis_url: str = ""
    # Optional: a streaming replica of DATABASE_URL. Statements, history and the
    # console's figures read it (read-only transactions); every write and every read a
    # money decision rests on stays on DATABASE_URL. Unset: everything on the primary.
    database_replica_url: str = ""
    # REDIS_URL names one node of a Redis Cluster: PayTrace uses a cluster client, and
    # what one request reads together shares a hash slot (app/ussd/session_store.py).
    redis_cluster: bool = False
    # Apply pending migrations when the API starts (a lock in each migration's
    # transaction makes it safe for several processes at once).
    migrate_on_start: bool = True
    db_pool_max: int = 16
    db_connect_timeout_s: int = 2
    db_statement_timeout_ms: int = 5000
    redis_timeout_s: float = 0.5
    # Namespace for every Redis key, so that several PayTrace instances (or test
    # runs) can share one Redis without seeing each other's keys.
    redis_prefix: str = Field(default="pt:", pattern=r"^[^{}]*$")  # no hash tags

    # USSD
    ussd_service_codes: Annotated[list[str], NoDecode] = ["*384*123#"]
    # Shared secret AT sends on every hop (Authorization: Bearer, or /ussd/<token>).
    # Required in production: without it anyone could post a hop as any phone.
    ussd_callback_token: SecretStr | None = None
    # The token being retired during a rotation: accepted too until it is removed.
    ussd_callback_token_previous: SecretStr | None = None
    ussd_session_ttl_s: int = 180
    # The whole hop must answer well inside AT's deadline, even with a dead database.
    ussd_hop_deadline_s: float = 1.5
    # A hop that has begun to commit (money, registration, a new PIN) gets this
    # long instead, still inside AT's 15 s, so its caller hears the real outcome.
    ussd_commit_deadline_s: float = 10.0
    profile_cache_ttl_s: int = 600

    # PINs
    pin_pepper: SecretStr | None = None
    pin_max_attempts: int = 3
    # Minutes of each repeated lock since the last right PIN, comma-separated: the
    # n-th lock lasts the n-th entry (the last repeats), so guessing slows down.
    pin_lock_minutes: Annotated[list[int], NoDecode] = Field(default=[30, 120, 1440], min_length=1)
    # Timed locks before the PIN waits for an operator's unlock or an SMS-code reset.
    pin_timed_locks: int = Field(default=3, ge=0)
    # argon2id cost; OWASP's minimum profile by default.
    pin_kdf_time_cost: int = 2
    pin_kdf_memory_kib: int = 19456
    # PIN checks (argon2id) run at once per API process, each on a thread of its own
    # below the event loop's priority; more wait their turn. Default: one per core the
    # process may run on (at least 2, so a console sign-in's own turn stays smaller).
    pin_checks_in_flight: int = Field(default_factory=lambda: max(2, _process_cores()), ge=1)

    # Keys (url-safe base64 Fernet keys) for wallet secrets: the first encrypts,
    # all decrypt. Rotate by prepending a new key, then `make -C Backend rekey`.
    wallet_encryption_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    # Keys the HMAC of USSD hop texts (the text holds the PIN, so never stored raw).
    session_secret: SecretStr | None = None

    # Africa's Talking. With no API key the SDK talks to the local sandbox.
    at_username: str = "sandbox"
    at_api_key: SecretStr | None = None
    at_sender_id: str | None = None
    at_base_url: str = ""
    at_timeout_s: float = 10.0
    # A top-up's send through AT's Airtime API (docs/bills.md): a read past this is an
    # unclear answer (the bill goes 'unknown' until AT is asked).
    at_airtime_timeout_s: float = 10.0
    # How long after AT took a top-up the worker asks AT for its final status (sooner
    # when AT's status callback arrives), and again after that while it is not final.
    bill_status_check_s: float = 30.0
    # Shared secret AT is configured to send (path segment) on delivery reports.
    # Required in production.
    at_callback_token: SecretStr | None = None
    # The token being retired during a rotation: accepted too until it is removed.
    at_callback_token_previous: SecretStr | None = None

    # Bearer token of the operator/agent API under /api/v1/admin. Unset in
    # production: that API refuses every request (403), the rest runs as usual.
    admin_token: SecretStr | None = None

    # Bearer token Prometheus sends to scrape /metrics. Unset: /metrics answers in
    # development and test only (404 in production: volumes are business figures).
    metrics_token: SecretStr | None = None
    # Port of the worker's own /metrics (its counters: outbox verdicts, movements); 0: off.
    worker_metrics_port: int = Field(default=0, ge=0, le=65535)

    # The operator console (/console, docs/console.md): a signed-in operator's session
    # ends after this long without a request, and in any case this long after sign-in.
    console_idle_timeout_s: int = Field(default=900, ge=60)
    console_absolute_timeout_s: int = Field(default=28800, ge=300)
    # Failed sign-ins one client address may make within CONSOLE_SIGN_IN_WINDOW_S (the
    # window starts at its first failure, counted in Redis); past that every try from it
    # is refused (429) until the window ends, whatever accounts it tries. An IPv6 address
    # counts with its /64.
    console_sign_in_failures_per_address: int = Field(default=20, ge=1)
    console_sign_in_window_s: int = Field(default=900, ge=1)
    # Console password checks (argon2id) at once per API process: their own turn, apart
    # from the PIN checks' PIN_CHECKS_IN_FLIGHT, so a flood of sign-ins never makes a
    # USSD PIN hop wait.
    console_sign_ins_in_flight: int = Field(default=1, ge=1)

    # REST API for the PWA (/api/v1). Access tokens are JWTs signed (HS256) with
    # API_TOKEN_SECRET; refresh tokens are random, stored hashed, rotated on use.
    api_token_secret: SecretStr | None = None
    access_token_ttl_s: int = 900
    refresh_token_ttl_days: int = 30
    # One-time codes sent by SMS to sign in or to register through the API.
    otp_ttl_s: int = 300
    # Wrong tries of one code from one client address, and from all addresses: a
    # stranger's junk kills the code for their own address only.
    otp_max_attempts: int = 5
    otp_max_attempts_per_code: int = 20
    # Rate limits, per window: codes asked for, and sign-in/registration attempts.
    api_rate_window_s: int = 900
    otp_requests_per_phone: int = 5
    otp_requests_per_address: int = 20
    # Sign-in and registration attempts per (phone, client address) and per address;
    # per phone they are counted only once a right code is shown, so a stranger
    # without the phone cannot spend the owner's.
    login_attempts_per_phone_and_address: int = 10
    login_attempts_per_address: int = 30
    login_attempts_per_phone: int = 10
    # Invitation SMS one user may make PayTrace send per day, across all numbers.
    invites_per_sender_per_day: int = Field(default=5, ge=0)
    # Browser origins allowed to call the API (CORS); empty: no cross-origin calls.
    cors_allow_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Largest request body /api (REST and admin) accepts, in bytes; also the limit of
    # any path with no limit of its own (/ussd: 4 KiB, /callbacks: 64 KiB).
    api_max_body_bytes: int = 16_384

    # Stellar custody. Unset STELLAR_HORIZON_URL in development: the runner starts
    # PayTrace's local development network and points this at it.
    stellar_horizon_url: str = ""
    stellar_network_passphrase: str = "PayTrace Local Network ; development only"  # noqa: S105
    stellar_asset_code: str = "KES"
    # PayTrace's own accounts, each a secret seed encrypted like the wallets' (a
    # token under WALLET_ENCRYPTION_KEYS): the asset's issuer, the treasury (sponsors
    # users' reserves, holds the fees' KES) and the fee account (funds the channel
    # accounts, whose seeds derive from its own).
    stellar_issuer_secret: SecretStr | None = None
    stellar_treasury_secret: SecretStr | None = None
    stellar_fee_secret: SecretStr | None = None
    stellar_timeout_s: float = 30.0
    # Upper time bound of a signed envelope, from signing: a retry resends the same
    # bytes until then; after it, a new envelope may be built.
    stellar_envelope_ttl_s: int = 120
    # Channel accounts: the sources of settlement transactions (one in flight each),
    # derived from the fee account's seed, so they need no settings of their own.
    stellar_channels: int = Field(default=32, ge=1, le=64)
    # How long a settlement batch with room to spare may wait for more movements
    # (full batches go at once); about a quarter of a ledger close.
    stellar_batch_window_s: float = Field(default=0.25, ge=0.0, le=5.0)
    # Seconds between the incoming watcher's rounds: lease, new wallets, paging fallback.
    stellar_watch_interval_s: float = Field(default=2.0, gt=0)
    # The local development network `make run` starts when STELLAR_HORIZON_URL is
    # unset: its port on 127.0.0.1, and the seconds between its ledger closes.
    stellar_local_network_port: int = 8010
    stellar_local_network_close_interval_s: float = Field(default=1.0, gt=0)

    # Seconds a worker loop that runs in one process at a time (the settler, the incoming
    # watcher) holds its lease between renewals: a standby takes over this long after
    # the holder dies (app/db/leases.py). The holder renews it every second or so.
    worker_lease_ttl_s: float = Field(default=15.0, ge=1.0, le=600.0)

    # Seconds between reconciliations of the ledger against Stellar (one worker runs
    # each, under a lease); 0 turns the periodic job off.
    reconciliation_interval_s: int = Field(default=3600, ge=0)

    # M-Pesa through Safaricom's Daraja API. Without DARAJA_CONSUMER_KEY outside
    # production, PayTrace talks to its local Daraja sandbox (`make run` starts it on
    # DARAJA_LOCAL_SANDBOX_PORT) with the sandbox's own development values; in
    # production M-Pesa is then off (deposits and withdrawals answer "unavailable").
    daraja_base_url: str = ""
    daraja_consumer_key: SecretStr | None = None
    daraja_consumer_secret: SecretStr | None = None
    # M-Pesa Express (STK push): the paybill or till number, its passkey, and the
    # transaction type (CustomerBuyGoodsOnline for a till).
    daraja_shortcode: str = ""
    daraja_passkey: SecretStr | None = None
    daraja_stk_transaction_type: Literal["CustomerPayBillOnline", "CustomerBuyGoodsOnline"] = (
        "CustomerPayBillOnline"
    )
    # B2C (withdrawals) and transaction status: the paying shortcode, the API
    # initiator's name and its SecurityCredential (the initiator password encrypted
    # with Safaricom's certificate, as the Daraja portal gives it).
    daraja_b2c_shortcode: str = ""
    daraja_initiator_name: str = ""
    daraja_security_credential: SecretStr | None = None
    daraja_timeout_s: float = Field(default=15.0, gt=0)
    daraja_local_sandbox_port: int = 8020
    # Secret path segment of PayTrace's M-Pesa callback URLs (generated in development).
    mpesa_callback_token: SecretStr | None = None
    # The token being retired during a rotation: accepted too until it is removed.
    mpesa_callback_token_previous: SecretStr | None = None
    # Where Daraja reaches PayTrace's callbacks; empty: PUBLIC_BASE_URL (or HOST:PORT).
    mpesa_callback_base_url: str = ""
    # A deposit with no result this long after its prompt is asked about (STK query).
    mpesa_stk_query_after_s: float = Field(default=180.0, gt=0)
    # A withdrawal with no result this long after M-Pesa took it is asked about
    # (transaction status), and asked again this often until it is settled.
    mpesa_result_wait_s: float = Field(default=300.0, gt=0)
    mpesa_status_query_interval_s: float = Field(default=120.0, gt=0)
    # "No such transaction" answers needed before a withdrawal's hold is released.
    mpesa_release_after_not_found: int = Field(default=2, ge=1)
    # Seconds between the worker's passes over open deposits and withdrawals.
    mpesa_check_interval_s: float = Field(default=2.0, gt=0)
    # M-Pesa reconciliation (docs/mpesa.md): where Safaricom's daily statements are
    # dropped as YYYY-MM-DD.csv (the org portal's export). Empty: the local sandbox's
    # statement in development; in production the daily job is then off.
    mpesa_statement_dir: str = ""
    # Seconds past midnight East Africa Time before yesterday is reconciled, so that
    # late results have landed and the day's statement has been downloaded.
    mpesa_reconciliation_delay_s: int = Field(default=7200, ge=0, lt=86400)
    # A deposit over this many cents is credited only once M-Pesa confirms it (STK
    # query) after its callback; 0: every deposit is confirmed (a callback alone
    # never credits). Deposits at or under it are credited on a verified callback.
    mpesa_confirm_deposits_over_cents: int = Field(default=0, ge=0)
    # STK queries answered with an HTTP error (never a decision) for one deposit before
    # each further one is logged at error level, for an alert.
    mpesa_stk_query_alert_after: int = Field(default=5, ge=1)
    # Set when the local sandbox's values were filled in (see daraja_sandbox_enabled).
    _daraja_sandbox: bool = PrivateAttr(default=False)

    # Source networks (comma-separated CIDRs) allowed to call /ussd and the AT
    # callbacks, and the Daraja callbacks; empty: any address (the token still applies).
    at_allowed_networks: Annotated[list[IPvAnyNetwork], NoDecode] = Field(default_factory=list)
    mpesa_allowed_networks: Annotated[list[IPvAnyNetwork], NoDecode] = Field(default_factory=list)
    # Proxies (CIDRs) whose X-Forwarded-For is believed; empty: the direct peer is
    # the caller, whatever the header says.
    trusted_proxies: Annotated[list[IPvAnyNetwork], NoDecode] = Field(default_factory=list)

    # Outbox worker
    worker_poll_interval_s: float = 0.5
    worker_batch_size: int = 20
    outbox_max_attempts: int = 8
    # Merchant webhooks (docs/merchants.md): how long a merchant's endpoint has to
    # answer, how often the worker looks for deliveries due, how many it leases at once,
    # how many it sends at a time (each holds a thread and, briefly, a connection).
    webhook_timeout_s: float = Field(default=10.0, gt=0, le=30)
    webhook_poll_interval_s: float = Field(default=1.0, gt=0)
    webhook_batch_size: int = Field(default=20, ge=1, le=200)
    webhook_concurrency: int = Field(default=4, ge=1, le=16)

    @field_validator(
        "ussd_callback_token",
        "ussd_callback_token_previous",
        "at_callback_token_previous",
        "mpesa_callback_token_previous",
        "pin_pepper",
        "session_secret",
        "at_api_key",
        "at_sender_id",
        "at_callback_token",
        "admin_token",
        "api_token_secret",
        "stellar_issuer_secret",
        "stellar_treasury_secret",
        "stellar_fee_secret",
        "daraja_consumer_key",
        "daraja_consumer_secret",
        "daraja_passkey",
        "daraja_security_credential",
        "mpesa_callback_token",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # `PIN_PEPPER=` in a .env file means "not set", never "an empty secret".
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator(
        "ussd_service_codes",
        "cors_allow_origins",
        "at_allowed_networks",
        "mpesa_allowed_networks",
        "trusted_proxies",
        mode="before",
    )
    @classmethod
    def _codes(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("pin_lock_minutes", mode="before")
    @classmethod
    def _lock_minutes(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("pin_lock_minutes")
    @classmethod
    def _lock_minutes_positive(cls, value: list[int]) -> list[int]:
        if any(minutes <= 0 for minutes in value):
            raise ValueError("every PIN_LOCK_MINUTES entry must be a positive number of minutes")
        return value

    @field_validator("wallet_encryption_keys", mode="before")
    @classmethod
    def _keys(cls, value: object) -> object:
        return _split_csv(value)

    @model_validator(mode="after")
    def _secrets_in_place(self) -> Settings:
        if self.environment == "production":
            for name in _REQUIRED_SECRETS:
                check_secret(name.upper(), getattr(self, name))
            for name in _OPTIONAL_SECRETS:
                check_secret(name.upper(), getattr(self, name), required=False)
            if not self.wallet_encryption_keys:
                raise ValueError("WALLET_ENCRYPTION_KEYS must be set in production")
            if self.at_api_key is None:
                raise ValueError("AT_API_KEY must be set in production")
            if not self.database_url or not self.redis_url:
                raise ValueError("DATABASE_URL and REDIS_URL must be set in production")
            self._check_daraja()
        else:
            self._fill_development_secrets()
            self._fill_daraja_sandbox()
        for key in self.wallet_encryption_keys:
            Fernet(key.get_secret_value())  # fails early on a malformed key
        return self

    def _check_daraja(self) -> None:
        # Unset: M-Pesa is off. Set: everything Daraja and its callbacks need, for real
        # (MPESA_CALLBACK_TOKEN's strength is checked with the other secrets).
        if self.daraja_consumer_key is None:
            return
        missing = [name.upper() for name in _DARAJA_REQUIRED if not getattr(self, name)]
        if missing:
            raise ValueError(
                f"DARAJA_CONSUMER_KEY is set: {', '.join(missing)} must be set too in production"
            )

    def _fill_daraja_sandbox(self) -> None:
        """Without a consumer key, PayTrace talks to its local Daraja sandbox with the
        sandbox's own development values (they are no secrets: nothing real moves)."""
        if self.daraja_consumer_key is not None:
            return
        self.daraja_base_url = self.daraja_base_url or (
            f"http://127.0.0.1:{self.daraja_local_sandbox_port}"
        )
        self.daraja_consumer_key = SecretStr(development_values.DARAJA_CONSUMER_KEY)
        self.daraja_consumer_secret = self.daraja_consumer_secret or SecretStr(
            development_values.DARAJA_CONSUMER_SECRET
        )
        self.daraja_shortcode = self.daraja_shortcode or development_values.DARAJA_SHORTCODE
        self.daraja_passkey = self.daraja_passkey or SecretStr(development_values.DARAJA_PASSKEY)
        self.daraja_b2c_shortcode = (
            self.daraja_b2c_shortcode or development_values.DARAJA_B2C_SHORTCODE
        )
        self.daraja_initiator_name = (
            self.daraja_initiator_name or development_values.DARAJA_INITIATOR_NAME
        )
        self.daraja_security_credential = self.daraja_security_credential or SecretStr(
            development_values.DARAJA_SECURITY_CREDENTIAL
        )
        self._daraja_sandbox = True

    def _fill_development_secrets(self) -> None:
        """Generate missing secrets once and keep them in the data directory."""
        generated = _GENERATED_SECRETS + _GENERATED_STELLAR_ACCOUNTS
        missing = [name for name in generated if getattr(self, name) is None]
        if not missing and self.wallet_encryption_keys:
            return
        path = self.dev_secrets_path
        stored: dict[str, str] = {}
        if path.exists():
            stored = json.loads(path.read_text())
        before = dict(stored)
        for name in _GENERATED_SECRETS:
            stored.setdefault(name, _generated(name))
        stored.setdefault("wallet_encryption_key", Fernet.generate_key().decode())
        wallet_key = Fernet(stored["wallet_encryption_key"])
        for name in _GENERATED_STELLAR_ACCOUNTS:
            if name not in stored:
                stored[name] = wallet_key.encrypt(Keypair.random().secret.encode()).decode()
        if stored != before:  # a new file, or one written before a secret was added
            _write_private(path, json.dumps(stored, indent=2))
        if not self.wallet_encryption_keys:
            self.wallet_encryption_keys = [SecretStr(stored["wallet_encryption_key"])]
        for name in missing:
            value = stored[name]
            if name in _GENERATED_STELLAR_ACCOUNTS and not self._opens(value):
                # Made under a wallet key this configuration no longer has: a fresh one.
                value = self._newest_fernet().encrypt(Keypair.random().secret.encode()).decode()
            setattr(self, name, SecretStr(value))

    def _newest_fernet(self) -> Fernet:
        return Fernet(self.wallet_encryption_keys[0].get_secret_value())

    def _opens(self, token: str) -> bool:
        keys = [Fernet(key.get_secret_value()) for key in self.wallet_encryption_keys]
        try:
            MultiFernet(keys).decrypt(token.encode())
        except InvalidToken:
            return False
        return True

    @property
    def dev_secrets_path(self) -> Path:
        """Where development keeps the secrets it generated (never used in production)."""
        return self.data_dir / "dev-secrets.json"

    @property
    def custody_enabled(self) -> bool:
        """Wallets are created and settled on Stellar when a Horizon is configured
        (`make run` always configures its local network)."""
        return bool(self.stellar_horizon_url)

    @property
    def daraja_sandbox_enabled(self) -> bool:
        """PayTrace's local Daraja sandbox stands in: no consumer key was given (never in
        production). `make run` then starts it."""
        return self._daraja_sandbox

    @property
    def mpesa_enabled(self) -> bool:
        """Deposits and withdrawals can reach M-Pesa (or the local sandbox)."""
        return self.daraja_consumer_key is not None

    @property
    def bill_rails(self) -> tuple[str, ...]:
        """The rails bills are paid through here: airtime always, Paybill billers
        (Daraja B2B) where M-Pesa is on."""
        return (AT_AIRTIME, DARAJA_B2B) if self.mpesa_enabled else (AT_AIRTIME,)

    @property
    def mpesa_callback_base(self) -> str:
        return (self.mpesa_callback_base_url or self.base_url).rstrip("/")

    @property
    def sms_sandbox_enabled(self) -> bool:
        """The local AT sandbox stands in only when no real AT key is given."""
        return self.at_api_key is None and self.environment != "production"

    @property
    def base_url(self) -> str:
        return self.public_base_url or f"http://{self.host}:{self.port}"


def _write_private(path: Path, text: str) -> None:
    """Replace the file in one step, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
