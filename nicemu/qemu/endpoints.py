"""Parsing the transport addresses the CLI takes.

``tcp:HOST:PORT`` and ``unix:PATH`` for streams; for datagrams
``udp:LHOST:LPORT@RHOST:RPORT`` (unicast), ``udp:GROUP:PORT`` with a multicast
group (QEMU's ``-netdev dgram`` with only ``remote`` set, or
``-netdev socket,mcast=``), and ``unix:LOCAL@REMOTE``.
"""

from __future__ import annotations

import ipaddress
import os
import stat
from dataclasses import dataclass


class EndpointError(ValueError):
    """An address the user wrote that cannot be used."""


@dataclass(frozen=True, slots=True)
class TcpAddress:
    """A TCP host and port."""

    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"tcp:{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class UnixAddress:
    """A unix socket path."""

    path: str

    def __str__(self) -> str:
        return f"unix:{self.path}"


@dataclass(frozen=True, slots=True)
class UdpAddress:
    """A UDP host and port."""

    host: str
    port: int

    @property
    def is_multicast(self) -> bool:
        """Whether the host is a multicast group."""
        try:
            return ipaddress.ip_address(self.host).is_multicast
        except ValueError:
            return False

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class DgramEndpoint:
    """Where datagrams are received (``local``) and sent (``remote``); a multicast group is both."""

    local: UdpAddress | UnixAddress
    remote: UdpAddress | UnixAddress

    def __str__(self) -> str:
        if isinstance(self.local, UnixAddress):
            return f"unix:{self.local.path}@{self.remote.path}"  # type: ignore[union-attr]
        if self.local == self.remote:
            return f"udp:{self.local}"
        return f"udp:{self.local}@{self.remote}"


def _host_port(text: str, what: str, given: str) -> tuple[str, int]:
    """Split HOST:PORT (or [IPV6]:PORT) out of ``text``, a part of what the user ``given``."""
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise EndpointError(f"{what}: {given!r} is not [IPV6]:PORT")
        port_text = rest[1:]
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep or not host:
            raise EndpointError(f"{what}: {given!r} is not HOST:PORT")
    try:
        port = int(port_text)
    except ValueError:
        raise EndpointError(f"{what}: port {port_text!r} is not a number") from None
    if not 0 <= port <= 65535:
        raise EndpointError(f"{what}: port {port} is outside 0..65535")
    return host, port


def parse_stream(text: str, option: str) -> TcpAddress | UnixAddress:
    """Parse ``tcp:HOST:PORT`` or ``unix:PATH`` given to ``option``."""
    kind, sep, rest = text.partition(":")
    if kind == "tcp" and sep:
        return TcpAddress(*_host_port(rest, option, text))
    if kind == "unix" and rest:
        return UnixAddress(rest)
    raise EndpointError(f"{option}: {text!r} is neither tcp:HOST:PORT nor unix:PATH")


def parse_dgram(text: str, option: str = "--dgram") -> DgramEndpoint:
    """Parse ``udp:LHOST:LPORT@RHOST:RPORT``, ``udp:GROUP:PORT`` or ``unix:LOCAL@REMOTE``."""
    kind, sep, rest = text.partition(":")
    if kind == "udp" and sep:
        local_text, at, remote_text = rest.partition("@")
        local = UdpAddress(*_host_port(local_text, option, text))
        if not at:
            if not local.is_multicast:
                raise EndpointError(f"{option}: {text!r} needs @RHOST:RPORT unless {local.host} is a multicast group")
            return DgramEndpoint(local, local)
        return DgramEndpoint(local, UdpAddress(*_host_port(remote_text, option, text)))
    if kind == "unix" and sep:
        local_path, at, remote_path = rest.partition("@")
        if not (at and local_path and remote_path):
            raise EndpointError(f"{option}: {text!r} is not unix:LOCAL@REMOTE")
        return DgramEndpoint(UnixAddress(local_path), UnixAddress(remote_path))
    raise EndpointError(f"{option}: {text!r} is not udp:LHOST:LPORT@RHOST:RPORT, udp:GROUP:PORT "
                        "or unix:LOCAL@REMOTE")


def remove_stale_unix_socket(path: str) -> None:
    """Remove a socket file an earlier run left at ``path``; anything else there is the user's and stays."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise EndpointError(f"{path} exists and is not a socket; not replacing it")
    os.unlink(path)
