from nicemu.wire.errors import DecodeError


def test_decode_error__str_names_layer_reason_and_detail():
    error = DecodeError(
        "ipv4", "bad_checksum", "header checksum 0x1234, expected 0xabcd"
    )

    assert str(error) == "ipv4: bad_checksum (header checksum 0x1234, expected 0xabcd)"
    assert (error.layer, error.reason, error.detail) == (
        "ipv4",
        "bad_checksum",
        "header checksum 0x1234, expected 0xabcd",
    )


def test_decode_error__str_without_detail_has_no_parentheses():
    assert str(DecodeError("ethernet", "truncated")) == "ethernet: truncated"


def test_decode_error__is_a_value_error():
    assert isinstance(DecodeError("arp", "truncated"), ValueError)
