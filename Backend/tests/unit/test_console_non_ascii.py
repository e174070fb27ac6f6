"""Console comparisons take any text a form sends: non-ASCII is a refusal, never a 500
(hmac.compare_digest refuses str with non-ASCII characters)."""

from datetime import UTC, datetime

import pyotp

from app.services import operators
from app.services.console_sessions import ConsoleSession


def test_a_non_ascii_csrf_token_is_refused_not_an_error():
    session = ConsoleSession(
        operator_id=1, email="ops@paytrace.test", role="admin", csrf="a" * 43, started_at=0.0
    )
    assert session.csrf_matches("é" * 43) is False
    assert session.csrf_matches("a" * 43) is True


def test_a_code_in_other_digits_is_no_code():
    seed = pyotp.random_base32()
    now = datetime.now(UTC)
    right = pyotp.TOTP(seed, interval=operators.TOTP_PERIOD_S).at(now)
    arabic = right.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    assert operators._matching_step(seed, arabic, now) is None
    assert operators._matching_step(seed, right, now) is not None
