"""The hop's form parser answers exactly what parse_qs answered (the first value of a
repeated field, blank values kept, bad escapes and bytes replaced), on any body."""

from urllib.parse import parse_qs

from hypothesis import example, given, settings
from hypothesis import strategies as st

from app.ussd.form import form_fields


def _parse_qs_fields(body: bytes) -> dict[str, str]:
    # The expression the hop used before form_fields.
    parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in parsed.items()}


# Bodies made of the characters that matter to a form parser, escapes (valid, broken,
# non-UTF-8) and text that is not ASCII, as well as arbitrary bytes.
_PIECES = st.sampled_from(
    [
        "&",
        "=",
        "+",
        "%",
        "%2A",
        "%2a",
        "%2B",
        "%25",
        "%ff",
        "%e2%82",
        "%e2%82%ac",
        "%G1",
        "%4",
        "sessionId",
        "text",
        "phoneNumber",
        "1*2",
        " ",
        ";",
        "\u20ac",
        "\xff",
        "a",
        "0",
    ]
)
_FORMISH = st.lists(_PIECES, max_size=40).map(lambda parts: "".join(parts).encode())
_RAW_NOT_UTF8 = st.lists(st.sampled_from([b"\xff", b"\xe2\x82", b"%", b"=", b"&", b"a"]))


@settings(max_examples=2000)
@given(st.one_of(st.binary(max_size=200), _FORMISH, _RAW_NOT_UTF8.map(b"".join)))
@example(b"")
@example(b"&&=&")
@example(b"text=1&text=2&text")
@example(b"text&text=2")
@example(b"a=%ff%fe\xff&b=\xe2%82%ac&c=%zz&d=%2")
@example(b"sessionId=ATUid_1&serviceCode=%2A384%2A123%23&phoneNumber=%2B254712345678&text=")
def test_form_fields_equal_parse_qs_first_values(body: bytes):
    assert form_fields(body) == _parse_qs_fields(body)


def test_a_repeated_field_keeps_its_first_value_and_blank_values_stay():
    assert form_fields(b"text=1&text=2&networkCode=&sessionId") == {
        "text": "1",
        "networkCode": "",
        "sessionId": "",
    }


def test_what_the_caller_typed_is_never_kept_in_the_cache():
    """A PIN is in `text` (1*...*4826): decoded for the hop, never held by the cache."""
    from app.ussd import form

    form._decoded.cache_clear()
    body = b"phoneNumber=%2B254712345678&text=1%2A0712345678%2A500%2A4826&serviceCode=%2A384%23"
    assert form_fields(body)["text"] == "1*0712345678*500*4826"
    assert form._decoded.cache_info().currsize == 2  # the number and the service code
    assert form_fields(body)["text"] == "1*0712345678*500*4826"
    assert form._decoded.cache_info().hits == 2
