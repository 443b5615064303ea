"""Wire codecs: compiled ``construct`` schemas, checksums and typed decode errors.

Each module decodes one protocol layer from ``bytes | bytearray | memoryview``
into a frozen, slotted dataclass, and encodes such a dataclass back to bytes.
Malformed input raises :class:`nicemu.wire.errors.DecodeError`, whose
``reason`` is the key of the caller's drop counter. The codecs keep no state.
"""
