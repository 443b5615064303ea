"""The control commands: one request object in, one response object out, as QMP has them.

A request is ``{"execute": NAME, "arguments": {...}, "id": ANY}``, where
``arguments`` and ``id`` may be left out. The response is
``{"return": RESULT}`` or ``{"error": {"class": CLASS, "desc": SENTENCE}}``,
with the request's ``id`` when it had one. ``CLASS`` is ``CommandNotFound``
for a command that does not exist and ``GenericError`` for everything else.

Nothing here does I/O: `nicemu.control.server` carries these over a socket.
"""

from __future__ import annotations

import inspect
import json
import logging
import types
import typing
from collections.abc import Callable
from functools import cache

from nicemu import __version__
from nicemu.ndis.oid import NdisOidRequest, Oid, PacketType
from nicemu.ndis.status import NdisStatus
from nicemu.qemu.server import NicemuServer
from nicemu.wire.ethernet import parse_mac

log = logging.getLogger(__name__)

_REQUEST_MEMBERS = ("execute", "arguments", "id")
_ULONG_MAX = 0xFFFFFFFF


class CommandError(Exception):
    """A request that cannot be carried out; the message is the response's ``desc``."""

    def __init__(self, desc: str, error_class: str = "GenericError") -> None:
        super().__init__(desc)
        self.error_class = error_class


# --- the commands ---------------------------------------------------------------


def query_version(server: NicemuServer) -> dict[str, str]:
    """The version of nicemu serving this socket."""
    return {"nicemu": __version__}


def query_commands(server: NicemuServer) -> list[str]:
    """The names of every command, sorted."""
    return sorted(COMMANDS)


def query_adapters(server: NicemuServer) -> list[dict[str, object]]:
    """Every live adapter: name, MAC, MTU, link, packet filter and multicast list."""
    return server.host.query_adapters()


def query_bindings(server: NicemuServer) -> list[dict[str, object]]:
    """Every open binding of a protocol driver to an adapter."""
    return server.host.query_bindings()


def query_filters(server: NicemuServer) -> list[dict[str, object]]:
    """Every adapter's filter stack, bottom to top, with each module's state (and counters, where it keeps some)."""
    return server.host.query_filters()


def query_switch(server: NicemuServer) -> list[dict[str, object]]:
    """Every switch segment: its ports with their counters, and the MAC table."""
    return server.host.query_switch()


def query_stats(server: NicemuServer, *, adapter: str | None = None) -> dict[str, object]:
    """The miniport statistics of every live adapter (or only ``adapter``), and the counters per layer."""
    if adapter is not None:
        _require_adapter(server, adapter)
    return {"adapters": server.host.query_stats(adapter), "layers": server.report()}


def oid_query(server: NicemuServer, *, adapter: str, oid: str | int, length: int = 256) -> dict[str, object]:
    """Query ``oid`` on ``adapter`` offering ``length`` bytes of room, as an administration tool does.

    A status other than SUCCESS is an answer too: it comes back with its
    name (and ``bytes_needed`` for BUFFER_TOO_SHORT), not as an error.
    """
    number = _oid_number(oid)
    if length < 0:
        raise CommandError(f"'length' must be 0 or more, not {length}")
    _require_adapter(server, adapter)
    request = NdisOidRequest.query(number, length)
    status = server.host.oid_request(adapter, request)
    data = bytes(request.information_buffer[:request.bytes_written]) if status == NdisStatus.SUCCESS else b""
    return {
        "status": status.name,
        "data": data.hex(),
        "bytes_written": request.bytes_written,
        "bytes_needed": request.bytes_needed,
        "value": _decode(number, data) if status == NdisStatus.SUCCESS else None,
    }


def oid_set(server: NicemuServer, *, adapter: str, oid: str | int, data: str | None = None,
            value: int | None = None, macs: list[str] | None = None) -> dict[str, object]:
    """Set ``oid`` on ``adapter`` to ``data`` (hex), ``value`` (a little-endian ULONG) or ``macs`` (MAC addresses).

    As with `oid_query`, a failing status is an answer, not an error.
    """
    number = _oid_number(oid)
    given = [name for name, v in (("data", data), ("value", value), ("macs", macs)) if v is not None]
    if len(given) != 1:
        got = f"; it got {' and '.join(repr(name) for name in given)}" if given else ""
        raise CommandError(f"oid-set takes exactly one of 'data' (hex), 'value' (a ULONG) "
                           f"or 'macs' (a list of MAC addresses){got}")
    if data is not None:
        buffer = _hex(data)
    elif value is not None:
        if not 0 <= value <= _ULONG_MAX:
            raise CommandError(f"'value' {value} does not fit a ULONG (0..{_ULONG_MAX})")
        buffer = value.to_bytes(4, "little")
    else:
        buffer = b"".join(_mac(text) for text in macs or ())
    _require_adapter(server, adapter)
    request = NdisOidRequest.set(number, buffer)
    status = server.host.oid_request(adapter, request)
    return {"status": status.name, "bytes_read": request.bytes_read, "bytes_needed": request.bytes_needed}


COMMANDS: dict[str, Callable[..., object]] = {
    "query-version": query_version,
    "query-commands": query_commands,
    "query-adapters": query_adapters,
    "query-bindings": query_bindings,
    "query-filters": query_filters,
    "query-stats": query_stats,
    "query-switch": query_switch,
    "oid-query": oid_query,
    "oid-set": oid_set,
}
"""Every command by name.

A command is a function of the `NicemuServer` whose arguments are its
keyword-only parameters. `execute` checks a request's arguments against
them (names, which have defaults, the annotated types) before the call, so
a command sees only arguments of the right type.
"""


# --- requests and responses -------------------------------------------------------


def greeting() -> dict[str, object]:
    """What the control socket says to every client that connects."""
    return {"nicemu": {"version": __version__, "commands": sorted(COMMANDS)}}


def error_response(desc: str, error_class: str = "GenericError") -> dict[str, object]:
    """A response reporting an error, for a request that has no id to answer to."""
    return {"error": {"class": error_class, "desc": desc}}


def execute_line(server: NicemuServer, line: bytes) -> dict[str, object]:
    """Decode one request line of JSON and carry it out; bad JSON gets an error response."""
    try:
        message = json.loads(line)
    except (ValueError, RecursionError) as error:
        # UnicodeDecodeError is a ValueError; RecursionError is JSON nested too deeply.
        return error_response(f"the request is not JSON: {error}")
    return execute(server, message)


def execute(server: NicemuServer, message: object) -> dict[str, object]:
    """Carry out one request and return its response; every failure is an error response, never an exception."""
    try:
        response: dict[str, object] = {"return": _dispatch(server, message)}
    except CommandError as error:
        response = error_response(str(error), error.error_class)
    except Exception as error:
        # A bug in a command must cost one error response, not the control socket.
        log.exception("control: %r failed", message)
        response = error_response(f"the command failed inside nicemu: {error!r}")
    if isinstance(message, dict) and "id" in message:
        response["id"] = message["id"]
    return response


def _dispatch(server: NicemuServer, message: object) -> object:
    if not isinstance(message, dict):
        raise CommandError(f'a request must be a JSON object like {{"execute": "query-version"}}, '
                           f"not {_show(message)}")
    for member in message:
        if member not in _REQUEST_MEMBERS:
            raise CommandError(f"a request has no member {member!r}; it has 'execute', 'arguments' and 'id'")
    if "execute" not in message:
        raise CommandError("the request has no 'execute' member naming the command")
    name = message["execute"]
    if not isinstance(name, str):
        raise CommandError(f"'execute' must be a command name, not {_show(name)}")
    command = COMMANDS.get(name)
    if command is None:
        raise CommandError(f"there is no command {name!r}; query-commands lists them", "CommandNotFound")
    arguments = message.get("arguments", {})
    if not isinstance(arguments, dict):
        raise CommandError(f"'arguments' must be a JSON object, not {_show(arguments)}")
    _check_arguments(name, _parameters(command), arguments)
    return command(server, **arguments)


# --- argument checking --------------------------------------------------------------


@cache
def _parameters(command: Callable[..., object]) -> dict[str, tuple[object, bool]]:
    """A command's arguments: name → (type, whether required)."""
    hints = typing.get_type_hints(command)
    return {p.name: (hints[p.name], p.default is inspect.Parameter.empty)
            for p in inspect.signature(command).parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY}


def _check_arguments(name: str, parameters: dict[str, tuple[object, bool]], arguments: dict[str, object]) -> None:
    for key in arguments:
        if key not in parameters:
            takes = f"it takes {', '.join(repr(p) for p in parameters)}" if parameters else "it takes none"
            raise CommandError(f"{name} has no argument {key!r}; {takes}")
    for key, (hint, required) in parameters.items():
        if key in arguments:
            if not _is_a(arguments[key], hint):
                raise CommandError(f"{name}: {key!r} must be {_describe(hint)}, not {_show(arguments[key])}")
        elif required:
            raise CommandError(f"{name} needs the argument {key!r}")


def _is_a(value: object, hint: object) -> bool:
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        return any(_is_a(value, member) for member in typing.get_args(hint))
    if origin is list:
        (item,) = typing.get_args(hint)
        return isinstance(value, list) and all(_is_a(v, item) for v in value)
    if hint is int:
        # JSON true and false arrive as bools, which Python counts as ints.
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)  # type: ignore[arg-type]


_DESCRIPTIONS: dict[object, str] = {
    str: "a string",
    int: "an integer",
    bool: "true or false",
    type(None): "null",
    list[str]: "a list of strings",
}


def _describe(hint: object) -> str:
    if typing.get_origin(hint) in (types.UnionType, typing.Union):
        return " or ".join(_describe(member) for member in typing.get_args(hint))
    return _DESCRIPTIONS[hint]


def _show(value: object) -> str:
    """``value`` as the JSON the client sent, cut short if long."""
    text = json.dumps(value, default=repr)
    return text if len(text) <= 40 else text[:37] + "..."


# --- adapters, OIDs and their data ----------------------------------------------------


def _require_adapter(server: NicemuServer, name: str) -> None:
    try:
        server.host.adapter(name)
    except KeyError as error:
        raise CommandError(str(error.args[0])) from None


def _oid_number(oid: str | int) -> int:
    """An OID given as its ntddndis.h name or as a number (a JSON number, or a string like "0x00010107")."""
    if isinstance(oid, str):
        if oid in Oid.__members__:
            return Oid[oid]
        try:
            oid = int(oid, 0)
        except ValueError:
            raise CommandError(f"'oid' {oid!r} is neither a number nor an OID nicemu knows "
                               f"({', '.join(Oid.__members__)})") from None
    if not 0 <= oid <= _ULONG_MAX:
        raise CommandError(f"'oid' {oid:#x} is outside 0..0xffffffff")
    return oid


def _hex(text: str) -> bytes:
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise CommandError(f"'data' must be hex digits, two per byte (like \"0b000000\"), not {_show(text)}") from None


def _mac(text: str) -> bytes:
    try:
        return parse_mac(text)
    except ValueError as error:
        raise CommandError(f"'macs': {error}") from None


def _macs(data: bytes) -> list[str]:
    return [data[i:i + 6].hex(":") for i in range(0, len(data), 6)]


def _packet_filter(data: bytes) -> list[str]:
    bits = int.from_bytes(data, "little")
    return [flag.name.lower() for flag in PacketType if flag & bits]  # type: ignore[union-attr]


_KNOWN_OIDS = frozenset(Oid)

_DECODERS: dict[int, Callable[[bytes], object]] = {
    Oid.OID_802_3_PERMANENT_ADDRESS: lambda data: data.hex(":"),
    Oid.OID_802_3_CURRENT_ADDRESS: lambda data: data.hex(":"),
    Oid.OID_802_3_MULTICAST_LIST: _macs,
    Oid.OID_GEN_CURRENT_PACKET_FILTER: _packet_filter,
}


def _decode(oid: int, data: bytes) -> object:
    """What a query answered, readable: MACs as text, flags by name, ULONGs and counters as numbers."""
    decoder = _DECODERS.get(oid)
    if decoder is not None:
        return decoder(data)
    # The other OIDs nicemu answers are ULONGs or 64-bit counters; an OID
    # it does not know stays raw.
    if oid in _KNOWN_OIDS and len(data) in (4, 8):
        return int.from_bytes(data, "little")
    return None
