"""The control socket: the commands of `nicemu.control.commands` as JSON lines on a unix socket.

A client that connects gets a greeting line, ``{"nicemu": {"version": ...,
"commands": [...]}}``. Then each line it sends is one request, answered by
one line. A line longer than `MAX_REQUEST_BYTES` gets an error response and
the connection is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import shutil
import socket
import tempfile

from nicemu.control.commands import error_response, execute_line, greeting
from nicemu.qemu.endpoints import EndpointError, remove_stale_unix_socket
from nicemu.qemu.server import NicemuServer

MAX_REQUEST_BYTES = 65536
"""The longest request line read; no command needs more."""


async def serve_control(server: NicemuServer, path: str, mode: int = 0o600, *,
                        live: set[asyncio.StreamWriter] | None = None) -> asyncio.Server:
    """Answer control requests about ``server`` on a unix socket at ``path``, made with permissions ``mode``.

    A socket file an earlier run left at ``path`` is replaced; any other file
    there is refused with `EndpointError`. ``live`` holds the open client
    connections, so the caller can end them: closing the server alone stops
    only new ones.
    """
    sock = _bind(path, mode)
    handler = functools.partial(_serve_client, server, set() if live is None else live)
    try:
        return await asyncio.start_unix_server(handler, sock=sock, limit=MAX_REQUEST_BYTES)
    except BaseException:
        sock.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        raise


def _bind(path: str, mode: int) -> socket.socket:
    """A unix socket bound at ``path`` with permissions ``mode``.

    It is bound in a directory only this user can enter, given ``mode`` and
    only then moved to ``path``: at no moment can anyone else connect to it.
    The umask would do the same, but it is process-wide and other threads
    create files too.
    """
    remove_stale_unix_socket(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    private = None
    try:
        private = tempfile.mkdtemp(prefix=".nicemu-", dir=os.path.dirname(os.path.abspath(path)))
        staged = os.path.join(private, "s")
        sock.bind(staged)
        os.chmod(staged, mode)
        os.rename(staged, path)
    except OSError as error:
        sock.close()
        raise EndpointError(f"cannot create the control socket {path}: {error.strerror or error}") from None
    finally:
        if private is not None:
            shutil.rmtree(private, ignore_errors=True)
    return sock


def _encode(message: dict[str, object]) -> bytes:
    return json.dumps(message).encode() + b"\n"


async def _serve_client(server: NicemuServer, live: set[asyncio.StreamWriter],
                        reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    live.add(writer)
    try:
        writer.write(_encode(greeting()))
        while True:
            try:
                line = await reader.readline()
            except ValueError:
                # Where the over-long line ends, and so where the next
                # request starts, is unknown: this client is done.
                writer.write(_encode(error_response(
                    f"a request line is longer than {MAX_REQUEST_BYTES} bytes; closing the connection")))
                break
            if not line:
                break
            if line.strip():
                writer.write(_encode(execute_line(server, line)))
            await writer.drain()
    except ConnectionError:
        pass  # the client went away before its answer
    finally:
        live.discard(writer)
        writer.close()
