import pytest

from app.errors import ValidationFailed
from app.services.registration import validate_full_name


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Wanjiru Kamau", "Wanjiru Kamau"),
        ("  Wanjiru    Kamau \t", "Wanjiru Kamau"),
        ("Otieno O'Brien", "Otieno O'Brien"),
        ("Mary-Anne Njeri", "Mary-Anne Njeri"),
        ("J. Mwangi", "J. Mwangi"),
        ("Renée Müller", "Renée Müller"),
        ("Al", "Al"),
        ("A" * 60, "A" * 60),
    ],
)
def test_good_names_are_kept_tidy(raw, clean):
    assert validate_full_name(raw) == clean


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "A",
        "A" * 61,
        "A.",
        "'-.",
        "Wanjiru 2",
        "Wanjiru_Kamau",
        "Wanjiru\u200bKamau",
        "Wanjiru 😀",
        "Łukasz Nowak",  # Ł is not in GSM-7: a handset could not show it
        "Иван Петров",
        "Kamau; DROP TABLE users",
    ],
)
def test_bad_names_are_refused_with_invalid_name(raw):
    with pytest.raises(ValidationFailed) as refused:
        validate_full_name(raw)
    assert refused.value.code == "invalid_name"
