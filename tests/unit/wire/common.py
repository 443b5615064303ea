"""Helpers shared by the codec tests, after construct's declarativeunittest."""

import random
from collections.abc import Callable, Iterator
from typing import Any

from construct import Construct, SizeofError

from nicemu.wire import _codec
from nicemu.wire.errors import DecodeError


def common(
    schema: Construct,
    compiled: Construct,
    data: bytes,
    obj: dict[str, Any],
    size: int | type[SizeofError] = SizeofError,
) -> None:
    """Check that ``data`` parses to ``obj`` and ``obj`` builds to ``data``.

    Interpreted and compiled schemas, and the codecs' own shortcut into the
    compiled one, must all agree; ``size`` is the schema's fixed size, or
    SizeofError when the size depends on the data.
    """
    for fmt in (schema, compiled):
        assert fmt.parse(data) == obj
        assert fmt.build(obj) == data
        if isinstance(size, int):
            assert fmt.sizeof() == size
        else:
            try:
                fmt.sizeof()
            except SizeofError:
                pass
            else:
                raise AssertionError(f"{fmt} has a fixed size, expected {size}")
    assert _codec.parse(compiled, data) == obj
    assert _codec.build(compiled, obj, "test") == data


def decodes_or_raises_decode_error(decode: Callable[[bytes], Any], data: bytes) -> bool:
    """Decode ``data``; True if it decoded, False on DecodeError, else fail."""
    try:
        decode(data)
    except DecodeError:
        return False
    return True


def garbage(seed: int, count: int, max_len: int) -> Iterator[bytes]:
    """Yield ``count`` seeded random byte strings of 0 to ``max_len`` bytes."""
    rng = random.Random(seed)
    for _ in range(count):
        yield rng.randbytes(rng.randrange(max_len + 1))


def mutations(seed: int, count: int, valid: bytes) -> Iterator[bytes]:
    """Yield ``count`` copies of ``valid`` with a few random bytes changed and
    maybe cut short, to reach past the first checks more often than garbage."""
    rng = random.Random(seed)
    for _ in range(count):
        data = bytearray(valid)
        for _ in range(rng.randrange(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        yield bytes(
            data[: rng.randrange(len(data) + 1)] if rng.random() < 0.3 else data
        )
