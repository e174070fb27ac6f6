from datetime import UTC, datetime

import pyotp
import pytest
from cryptography.fernet import Fernet
from stellar_sdk import Keypair

from app.cli import rekey
from app.db.unit_of_work import UnitOfWork
from app.services import merchant_keys, operators, webhooks
from app.services.custody import SecretBox, UndecryptableSecret, rekey_wallets
from app.services.merchants import onboard
from app.services.pins import PinHasher
from app.services.registration import NewUser, register_user
from tests.support.merchants import application, key_row

OLD = Fernet.generate_key().decode()
NEW = Fernet.generate_key().decode()


def register_many(database, box: SecretBox, how_many: int, pin_hash: str) -> None:
    for n in range(how_many):
        new = NewUser(
            phone=f"+2547120000{n:02d}",
            full_name=f"Worker {chr(65 + n)}a",
            pin_hash=pin_hash,
            language="en",
            registration_key=f"ussd:rekey-{n}",
        )
        register_user(UnitOfWork(database), box, new, shortcode="*384*123#")


def wallets(database) -> list[tuple[int, str, str]]:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT id, stellar_address, stellar_secret_ct FROM wallets ORDER BY id")
        return cur.fetchall()


@pytest.fixture
def pin_hash(settings) -> str:
    return PinHasher.from_settings(settings).hash("4821")


def test_rekey_moves_every_secret_to_the_new_key_in_batches(settings, clean_database, pin_hash):
    register_many(clean_database, SecretBox([OLD]), 7, pin_hash)
    before = wallets(clean_database)

    rewritten = rekey_wallets(clean_database, SecretBox([NEW, OLD]), batch_size=3)

    after = wallets(clean_database)
    assert rewritten == 7
    only_new = SecretBox([NEW])  # the old key is left out to prove it is no longer needed
    for (wallet_id, address, old_ct), (_, _, new_ct) in zip(before, after, strict=True):
        assert new_ct != old_ct, f"wallet {wallet_id} was not rewritten"
        assert Keypair.from_secret(only_new.decrypt(new_ct)).public_key == address


def test_rekey_twice_rewrites_nothing_the_second_time(settings, clean_database, pin_hash):
    register_many(clean_database, SecretBox([OLD]), 4, pin_hash)
    box = SecretBox([NEW, OLD])
    assert rekey_wallets(clean_database, box, batch_size=2) == 4
    rekeyed = wallets(clean_database)

    assert rekey_wallets(clean_database, box, batch_size=2) == 0
    assert wallets(clean_database) == rekeyed


def test_rekey_only_rewrites_secrets_still_under_an_old_key(settings, clean_database, pin_hash):
    register_many(clean_database, SecretBox([OLD]), 2, pin_hash)
    box = SecretBox([NEW, OLD])
    register_user(
        UnitOfWork(clean_database),
        box,
        NewUser("+254712000099", "Newer Worker", pin_hash, "sw", "ussd:rekey-new"),
        shortcode="*384*123#",
    )

    assert rekey_wallets(clean_database, box) == 2


def test_rekey_stops_at_a_secret_no_key_opens_and_names_only_the_wallet(
    settings, clean_database, pin_hash
):
    register_many(clean_database, SecretBox([OLD]), 2, pin_hash)

    first_id = wallets(clean_database)[0][0]

    with pytest.raises(UndecryptableSecret) as refused:
        rekey_wallets(clean_database, SecretBox([NEW]))
    assert str(refused.value) == f"wallet {first_id}: secret opens under no configured key"


def merchant_secrets(database, box: SecretBox, how_many: int) -> dict[str, str]:
    """Merchants with a key each (one revoked), secrets under box: key id -> secret."""
    issued = {}
    for n in range(how_many):
        merchant = onboard(UnitOfWork(database), application(f"{51234 + n}")).merchant
        key = merchant_keys.issue_key(UnitOfWork(database), box, merchant.id)
        issued[key.key.key_id] = key.secret
    merchant_keys.revoke_key(UnitOfWork(database), merchant.id, key.key.key_id, datetime.now(UTC))
    return issued


def test_rekey_moves_merchant_key_secrets_revoked_ones_too(settings, clean_database):
    issued = merchant_secrets(clean_database, SecretBox([OLD]), 5)
    box = SecretBox([NEW, OLD])

    assert merchant_keys.rekey_secrets(clean_database, box, batch_size=2) == 5
    assert merchant_keys.rekey_secrets(clean_database, box, batch_size=2) == 0
    only_new = SecretBox([NEW])
    for key_id, secret in issued.items():
        assert only_new.decrypt(key_row(clean_database, key_id)["secret_ct"]) == secret
    with pytest.raises(UndecryptableSecret, match=r"^merchant key 1: secret opens under no"):
        merchant_keys.rekey_secrets(clean_database, SecretBox([Fernet.generate_key().decode()]))


def webhook_secrets(database, box: SecretBox, how_many: int) -> dict[int, str]:
    """Endpoints under `box`, one disabled: endpoint id -> its secret."""
    merchant = onboard(UnitOfWork(database), application("71234")).merchant
    made = {}
    for n in range(how_many):
        new = webhooks.create_endpoint(UnitOfWork(database), box, merchant.id,
                                       f"https://shop{n}.example.com/h", f"k{n}",
                                       production=True)  # fmt: skip
        made[new.endpoint.id] = new.secret
    webhooks.disable_endpoint(UnitOfWork(database), merchant.id, new.endpoint.id, "off")
    return made


def endpoint_secret_ct(database, endpoint_id: int) -> str:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT secret_ct FROM merchant_webhook_endpoints WHERE id = %(id)s",
            {"id": endpoint_id},
        )
        (token,) = cur.fetchone()
        conn.rollback()
    return token


def test_rekey_moves_webhook_endpoint_secrets_disabled_ones_too(settings, clean_database):
    made = webhook_secrets(clean_database, SecretBox([OLD]), 5)
    box = SecretBox([NEW, OLD])

    assert webhooks.rekey_secrets(clean_database, box, batch_size=2) == 5
    assert webhooks.rekey_secrets(clean_database, box, batch_size=2) == 0
    for endpoint_id, secret in made.items():
        assert SecretBox([NEW]).decrypt(endpoint_secret_ct(clean_database, endpoint_id)) == secret
    with pytest.raises(UndecryptableSecret, match=r"^webhook endpoint 1: secret opens under no"):
        webhooks.rekey_secrets(clean_database, SecretBox([Fernet.generate_key().decode()]))


def operator_seeds(settings, database, box: SecretBox, how_many: int) -> dict[int, str]:
    """Console operators whose TOTP seeds are under box's key: {operator id: seed}."""
    made = {}
    for n in range(how_many):
        new = operators.create(UnitOfWork(database), PinHasher.from_settings(settings), box,
                               email=f"ops{n}@paytrace.test", role="viewer",
                               password="a long enough password")  # fmt: skip
        made[new.operator.id] = pyotp.parse_uri(new.provisioning_uri).secret
    return made


def operator_seed_ct(database, operator_id: int) -> str:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT totp_secret_ct FROM operators WHERE id = %(id)s", {"id": operator_id})
        (token,) = cur.fetchone()
        conn.rollback()
    return token


def test_rekey_moves_operators_totp_seeds(settings, clean_database):
    made = operator_seeds(settings, clean_database, SecretBox([OLD]), 3)
    box = SecretBox([NEW, OLD])

    assert operators.rekey_secrets(clean_database, box, batch_size=2) == 3
    assert operators.rekey_secrets(clean_database, box, batch_size=2) == 0
    for operator_id, seed in made.items():
        assert SecretBox([NEW]).decrypt(operator_seed_ct(clean_database, operator_id)) == seed
    with pytest.raises(UndecryptableSecret, match=r"^operator 1: secret opens under no"):
        operators.rekey_secrets(clean_database, SecretBox([Fernet.generate_key().decode()]))


def test_rekey_command_rekeys_with_keys_from_the_environment(
    settings, clean_database, pin_hash, monkeypatch, capsys
):
    register_many(clean_database, SecretBox([OLD]), 3, pin_hash)
    issued = merchant_secrets(clean_database, SecretBox([OLD]), 2)
    endpoints = webhook_secrets(clean_database, SecretBox([OLD]), 2)
    seeds = operator_seeds(settings, clean_database, SecretBox([OLD]), 2)
    monkeypatch.setenv("ENVIRONMENT", "test")
    monkeypatch.setenv("DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("DATABASE_URL", clean_database.dsn)
    monkeypatch.setenv("WALLET_ENCRYPTION_KEYS", f"{NEW},{OLD}")

    assert rekey.main() == 0

    out = capsys.readouterr()
    assert "3 wallet secret(s) re-encrypted" in out.out
    assert "2 merchant API key secret(s) re-encrypted" in out.out
    assert "2 webhook endpoint secret(s) re-encrypted" in out.out
    assert "2 operator TOTP seed(s) re-encrypted" in out.out
    for operator_id, seed in seeds.items():
        assert SecretBox([NEW]).decrypt(operator_seed_ct(clean_database, operator_id)) == seed
    for endpoint_id, secret in endpoints.items():
        assert SecretBox([NEW]).decrypt(endpoint_secret_ct(clean_database, endpoint_id)) == secret
    for key_id, secret in issued.items():
        assert SecretBox([NEW]).decrypt(key_row(clean_database, key_id)["secret_ct"]) == secret
    assert NEW not in out.out + out.err and OLD not in out.out + out.err
    for _, address, ciphertext in wallets(clean_database):
        assert Keypair.from_secret(SecretBox([NEW]).decrypt(ciphertext)).public_key == address


def test_rekey_command_explains_a_missing_database_url(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ENVIRONMENT", "test")
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", "")

    assert rekey.main() == 2
    assert "DATABASE_URL is not set" in capsys.readouterr().err
