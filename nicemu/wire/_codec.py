"""Plumbing shared by the codec modules; nothing here leaves ``nicemu.wire``."""

import struct
from io import BytesIO
from typing import Any, TypeAlias

from construct import Compiled, Container

Buffer: TypeAlias = bytes | bytearray | memoryview
"""What decoders accept and encoders take as payload."""

# Construct.parse() and build() make a fresh context per call and set four keys
# through Container.__setattr__: about 1.3 us, a quarter of a header's parse.
# Compiled parsers and builders only read "_params" from the context they are
# handed and never write to it, so one context per direction serves every call.
_PARSE_CONTEXT = Container(_parsing=True, _building=False, _sizing=False)
_PARSE_CONTEXT["_params"] = _PARSE_CONTEXT
_BUILD_CONTEXT = Container(_parsing=False, _building=True, _sizing=False)
_BUILD_CONTEXT["_params"] = _BUILD_CONTEXT


def parse(compiled: Compiled, data: Buffer) -> Container:
    """Parse ``data`` with a compiled schema, as ``compiled.parse(data)`` does.

    The caller has checked every length first: compiled parsers do not detect
    a short read of ``Bytes``.
    """
    return compiled.parsefunc(BytesIO(data), _PARSE_CONTEXT)


def build(compiled: Compiled, fields: dict[str, Any], layer: str) -> bytes:
    """Build ``fields`` with a compiled schema, as ``compiled.build(fields)`` does.

    Raises ValueError for an integer out of range: compiled builders pack with
    ``struct`` directly, so it surfaces as ``struct.error``, not a construct error.
    """
    stream = BytesIO()
    try:
        compiled.buildfunc(fields, stream, _BUILD_CONTEXT)
    except struct.error as exc:
        raise ValueError(f"{layer}: cannot encode {fields!r}: {exc}") from None
    return stream.getvalue()


def require_length(layer: str, field: str, value: Buffer, length: int) -> None:
    """Raise ValueError unless ``value`` is ``length`` bytes long.

    Compiled ``Bytes`` builders write whatever they are given, so a wrong
    length would otherwise go out silently as a corrupt frame.
    """
    if len(value) != length:
        raise ValueError(f"{layer}: {field} must be {length} bytes, got {len(value)}")
