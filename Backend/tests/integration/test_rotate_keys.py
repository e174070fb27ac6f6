"""`rotate-keys` (`python -m app.cli.rekey`): every custodied secret onto the newest key while
PayTrace runs, after which the old key can be retired.

test_rekey.py covers re-encrypting wallet secrets (batches, reruns, a secret no key
opens, the command's counts). This file covers what rotation adds on top: PayTrace's
own Stellar secrets, which live in settings, and retiring the old key while wallets
are being created and signed for.
"""

from __future__ import annotations

import re
import threading

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from stellar_sdk import Keypair

from app.cli import rekey
from app.db.unit_of_work import UnitOfWork
from app.services.custody import (
    SecretBox,
    SystemAccounts,
    UndecryptableSecret,
    rotate_system_secrets,
)
from app.services.pins import PinHasher
from app.services.registration import NewUser, register_user
from tests.integration.test_rekey import register_many, wallets

OLD = Fernet.generate_key().decode()
NEW = Fernet.generate_key().decode()
SYSTEM = ("STELLAR_ISSUER_SECRET", "STELLAR_TREASURY_SECRET", "STELLAR_FEE_SECRET")
SEED = re.compile(r"S[A-Z2-7]{55}")  # a Stellar secret seed, as it would be printed


@pytest.fixture
def pin_hash(settings) -> str:
    return PinHasher.from_settings(settings).hash("4821")


@pytest.fixture
def command_env(settings, clean_database, monkeypatch, tmp_path):
    """The environment `python -m app.cli.rekey` reads, minus the keys and system secrets."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ENVIRONMENT", "test")
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", clean_database.dsn)

    def configure(keys: list[str], system: dict[str, str]) -> None:
        monkeypatch.setenv("WALLET_ENCRYPTION_KEYS", ",".join(keys))
        for name, token in system.items():
            monkeypatch.setenv(name, token)

    return configure


def system_tokens(box: SecretBox) -> dict[str, str]:
    return {name: box.encrypt(Keypair.random().secret) for name in SYSTEM}


def printed_tokens(out: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def name_for(n: int) -> str:
    letters = ""
    while True:
        letters = chr(97 + n % 26) + letters
        n //= 26
        if n == 0:
            return f"Runner {letters.capitalize()}"


class RunningPayTrace(threading.Thread):
    """The system at work during the rotation, on the deployed key list (new key first):
    registers users (a new wallet secret each) and decrypts a wallet's secret to sign, over
    and over, counting every round so the rotation can wait for it."""

    def __init__(self, database, box: SecretBox, pin_hash: str) -> None:
        super().__init__(daemon=True)
        self.database, self.box, self.pin_hash = database, box, pin_hash
        self.stop = threading.Event()
        self.rounds = 0
        self.progress = threading.Condition()
        self.signed_under = {"old": 0, "new": 0}  # which key the secret was under when signed
        self.errors: list[BaseException] = []

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                registered = self._register(self.rounds)
                self._sign(registered)  # a secret under the new key
                self._sign(self._nth_wallet(self.rounds))  # round 0: under the old one
                with self.progress:
                    self.rounds += 1
                    self.progress.notify_all()
        except BaseException as exc:  # reported by the test
            self.errors.append(exc)
            with self.progress:
                self.progress.notify_all()

    def _register(self, n: int) -> str:
        new = NewUser(f"+25471300{n:04d}", name_for(n), self.pin_hash, "en", f"ussd:run-{n}")
        done = register_user(UnitOfWork(self.database), self.box, new, shortcode="*384*123#")
        return done.wallet.stellar_address

    def _nth_wallet(self, n: int) -> str:
        with UnitOfWork(self.database) as uow, uow.conn.cursor() as cur:
            cur.execute(
                "SELECT stellar_address FROM wallets ORDER BY id"
                " OFFSET %(n)s %% (SELECT count(*) FROM wallets) LIMIT 1",
                {"n": n},
            )
            return cur.fetchone()[0]

    def _sign(self, address: str) -> None:
        """As the worker signs: the stored secret, decrypted only to sign."""
        with UnitOfWork(self.database) as uow:
            token = uow.stellar.wallet_secret(address)
        keypair = Keypair.from_secret(self.box.decrypt(token))
        assert keypair.public_key == address
        keypair.verify(b"paytrace", keypair.sign(b"paytrace"))
        self.signed_under["new" if self.box.is_current(token) else "old"] += 1

    def wait_for_another_round(self) -> None:
        with self.progress:
            target = self.rounds + 1
            done = self.progress.wait_for(
                lambda: self.rounds >= target or self.errors or not self.is_alive(), timeout=10
            )
        assert done and not self.errors, self.errors


def test_rotation_while_paytrace_runs_then_only_the_new_key_opens_everything(
    settings, clean_database, pin_hash, command_env, monkeypatch, capsys
):
    before = SecretBox([OLD])
    register_many(clean_database, before, 20, pin_hash)
    system = system_tokens(before)
    command_env([NEW, OLD], system)  # the new key deployed first, the old one still there

    running = RunningPayTrace(clean_database, SecretBox([NEW, OLD]), pin_hash)
    running.start()
    running.wait_for_another_round()
    rotate = SecretBox.rotate

    def rotate_between_rounds(box: SecretBox, token: str) -> str:
        # Every secret is re-encrypted only once PayTrace has registered a user and signed
        # again since the last: the rotation and the running system interleave for sure.
        running.wait_for_another_round()
        return rotate(box, token)

    monkeypatch.setattr(SecretBox, "rotate", rotate_between_rounds)
    rounds_before = running.rounds
    try:
        code = rekey.main(["--print-system-tokens", "--batch-size", "4"])
        rounds_during = running.rounds - rounds_before
    finally:
        running.stop.set()
        running.join(timeout=30)
    monkeypatch.setattr(SecretBox, "rotate", rotate)
    assert not running.errors, running.errors
    assert code == 0

    out = capsys.readouterr()
    assert "20 wallet secret(s) re-encrypted under the newest of 2 key(s)." in out.out
    assert rounds_during >= 20 + len(SYSTEM)  # a round of registering and signing per secret
    # The running system signed with secrets under both keys while the rotation went on.
    assert running.signed_under["old"] > 0 and running.signed_under["new"] > 0

    # Retire the old key: the new key alone opens every wallet secret, those created
    # during the rotation included; the old key alone opens none.
    only_new, only_old = SecretBox([NEW]), SecretBox([OLD])
    stored = wallets(clean_database)
    assert len(stored) == 20 + running.rounds
    for wallet_id, address, token in stored:
        assert Keypair.from_secret(only_new.decrypt(token)).public_key == address, wallet_id
        with pytest.raises(UndecryptableSecret):
            only_old.decrypt(token)

    # PayTrace's own secrets: the printed tokens carry the same seeds, under the new key only.
    tokens = printed_tokens(out.out)
    assert set(tokens) == set(SYSTEM)
    for name, token in tokens.items():
        assert token != system[name]
        assert only_new.decrypt(token) == before.decrypt(system[name]), name
        with pytest.raises(UndecryptableSecret):
            only_old.decrypt(token)
    retired = settings.model_copy(
        update={
            "wallet_encryption_keys": [SecretStr(NEW)],
            **{name.lower(): SecretStr(tokens[name]) for name in SYSTEM},
        }
    )
    SystemAccounts.from_settings(retired, only_new)  # the worker starts without the old key

    # Nothing secret was printed: no key, no seed.
    assert NEW not in out.out + out.err and OLD not in out.out + out.err
    assert not SEED.search(out.out + out.err)

    # With the old key dropped and the new tokens in place, a rerun finds nothing to do.
    command_env([NEW], tokens)
    assert rekey.main([]) == 0
    rerun = capsys.readouterr().out
    assert "0 wallet secret(s) re-encrypted under the newest of 1 key(s)." in rerun
    for name in SYSTEM:
        assert f"{name} is under the newest key." in rerun


def test_system_secrets_under_an_older_key_are_reported_and_printed_only_on_request(
    settings, clean_database, pin_hash, command_env, capsys
):
    register_many(clean_database, SecretBox([OLD]), 2, pin_hash)
    system = system_tokens(SecretBox([OLD]))
    system["STELLAR_FEE_SECRET"] = SecretBox([NEW]).encrypt(Keypair.random().secret)
    command_env([NEW, OLD], system)

    assert rekey.main([]) == 0
    out = capsys.readouterr().out
    assert "2 wallet secret(s) re-encrypted" in out
    assert "STELLAR_ISSUER_SECRET is under an older key" in out
    assert "STELLAR_TREASURY_SECRET is under an older key" in out
    assert "STELLAR_FEE_SECRET is under the newest key." in out
    assert "--print-system-tokens prints it" in out
    assert "keep the older key(s) until STELLAR_ISSUER_SECRET, STELLAR_TREASURY_SECRET" in out
    assert printed_tokens(out) == {}  # no token without the flag, old or new
    assert not any(token in out for token in system.values())

    assert rekey.main(["--print-system-tokens"]) == 0
    out = capsys.readouterr().out
    assert "0 wallet secret(s) re-encrypted" in out
    tokens = printed_tokens(out)
    assert set(tokens) == {"STELLAR_ISSUER_SECRET", "STELLAR_TREASURY_SECRET"}
    for name, token in tokens.items():
        assert SecretBox([NEW]).decrypt(token) == SecretBox([OLD]).decrypt(system[name])
    assert not SEED.search(out)


def test_a_system_secret_no_key_opens_stops_before_the_database_is_touched(
    settings, clean_database, pin_hash, command_env, capsys
):
    register_many(clean_database, SecretBox([OLD]), 2, pin_hash)
    before = wallets(clean_database)
    system = system_tokens(SecretBox([OLD]))
    lost = Fernet.generate_key().decode()
    system["STELLAR_TREASURY_SECRET"] = SecretBox([lost]).encrypt(Keypair.random().secret)
    command_env([NEW, OLD], system)

    assert rekey.main(["--print-system-tokens"]) == 1
    out = capsys.readouterr()
    assert "STELLAR_TREASURY_SECRET opens under no configured key" in out.err
    assert system["STELLAR_TREASURY_SECRET"] not in out.out + out.err
    assert printed_tokens(out.out) == {}
    assert wallets(clean_database) == before


def test_system_secrets_unset_current_or_under_an_older_key(settings):
    old_token = SecretBox([OLD]).encrypt(Keypair.random().secret)
    configured = settings.model_copy(
        update={
            "stellar_issuer_secret": None,
            "stellar_treasury_secret": SecretStr(SecretBox([NEW]).encrypt("S-current")),
            "stellar_fee_secret": SecretStr(old_token),
        }
    )
    found = rotate_system_secrets(configured, SecretBox([NEW, OLD]))
    assert [(s.setting, s.state) for s in found] == [
        ("STELLAR_ISSUER_SECRET", "unset"),
        ("STELLAR_TREASURY_SECRET", "current"),
        ("STELLAR_FEE_SECRET", "older_key"),
    ]
    assert found[1].rotated is None
    assert SecretBox([NEW]).decrypt(found[2].rotated) == SecretBox([OLD]).decrypt(old_token)
    assert found[2].rotated not in repr(found)  # tokens stay out of reprs and tracebacks


def test_batch_size_must_be_positive(capsys):
    with pytest.raises(SystemExit):
        rekey.main(["--batch-size", "0"])
    assert "--batch-size must be positive" in capsys.readouterr().err
