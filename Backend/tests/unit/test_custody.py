import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from stellar_sdk import Keypair

from app.config import Settings
from app.services.custody import SecretBox, UndecryptableSecret, new_keypair

OLD = Fernet.generate_key().decode()
NEW = Fernet.generate_key().decode()
SEED = "SBX2RBTKN7GQ6UJUPGTN7GPJH5TJPB6TW3UKMKQN4ANYRKGCW2NBKZNS"


def test_secret_round_trips():
    box = SecretBox([OLD])
    token = box.encrypt(SEED)
    assert token != SEED and SEED not in token
    assert box.decrypt(token) == SEED


def test_old_token_still_decrypts_after_a_new_key_is_prepended():
    token = SecretBox([OLD]).encrypt(SEED)
    assert SecretBox([NEW, OLD]).decrypt(token) == SEED


def test_new_secrets_are_encrypted_with_the_first_key():
    token = SecretBox([NEW, OLD]).encrypt(SEED)
    assert SecretBox([NEW]).decrypt(token) == SEED
    with pytest.raises(UndecryptableSecret):
        SecretBox([OLD]).decrypt(token)


def test_rotated_token_decrypts_with_only_the_new_key():
    token = SecretBox([OLD]).encrypt(SEED)
    rotated = SecretBox([NEW, OLD]).rotate(token)
    assert SecretBox([NEW]).decrypt(rotated) == SEED
    with pytest.raises(UndecryptableSecret):
        SecretBox([OLD]).decrypt(rotated)


def test_is_current_tells_which_tokens_still_need_rotating():
    box = SecretBox([NEW, OLD])
    assert not box.is_current(SecretBox([OLD]).encrypt(SEED))
    assert box.is_current(box.encrypt(SEED))


def test_token_under_an_unknown_key_is_refused_clearly():
    token = SecretBox([Fernet.generate_key().decode()]).encrypt(SEED)
    with pytest.raises(UndecryptableSecret):
        SecretBox([NEW, OLD]).rotate(token)


def test_box_needs_at_least_one_key():
    with pytest.raises(ValueError):
        SecretBox([])


def test_box_reads_keys_from_settings_in_order(tmp_path):
    settings = Settings(
        _env_file=None,
        environment="test",
        data_dir=tmp_path,
        wallet_encryption_keys=[SecretStr(NEW), SecretStr(OLD)],
    )
    token = SecretBox.from_settings(settings).encrypt(SEED)
    assert SecretBox([NEW]).decrypt(token) == SEED


def test_new_keypair_is_a_matching_stellar_pair():
    address, seed = new_keypair()
    assert address.startswith("G") and len(address) == 56
    assert seed.startswith("S") and len(seed) == 56
    assert Keypair.from_secret(seed).public_key == address
    assert new_keypair()[0] != address
