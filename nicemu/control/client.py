"""A blocking client of the control socket, as ``nicemu ctl`` uses it."""

from __future__ import annotations

import json
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Self

DEFAULT_TIMEOUT = 10.0
"""Seconds to wait for the socket to accept or answer."""


class ControlError(Exception):
    """The control socket could not be reached, or did not answer as one; the message says which."""


class CommandFailed(ControlError):
    """nicemu answered the request with an error; the message is the error's ``desc``."""

    def __init__(self, desc: str, error_class: str) -> None:
        super().__init__(desc)
        self.error_class = error_class


@dataclass(frozen=True, slots=True)
class Greeting:
    """What nicemu says when a client connects."""

    version: str
    commands: tuple[str, ...]


class ControlClient:
    """One connection to a nicemu control socket: the greeting on connect, then one request at a time."""

    def __init__(self, path: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.path = path
        self.timeout = timeout
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        try:
            self._sock.connect(path)
        except OSError as error:
            self._sock.close()
            raise ControlError(f"cannot connect to the control socket {path}: {error.strerror or error}") from None
        self._lines = self._sock.makefile("rb")
        self._next_id = 1
        try:
            self.greeting = self._read_greeting()
        except BaseException:
            self.close()
            raise

    def execute(self, command: str, arguments: dict[str, object] | None = None) -> object:
        """Run ``command`` and return what it returned; `CommandFailed` if nicemu answered with an error."""
        request: dict[str, object] = {"execute": command, "id": self._next_id}
        self._next_id += 1
        if arguments:
            request["arguments"] = arguments
        self._send(request)
        response = self._read()
        if response.get("id") != request["id"]:
            raise ControlError(f"{self.path} answered with id {response.get('id')!r} "
                               f"to the request with id {request['id']}")
        error = response.get("error")
        if isinstance(error, dict):
            raise CommandFailed(str(error.get("desc")), str(error.get("class")))
        if "return" not in response:
            raise ControlError(f"{self.path} answered with neither 'return' nor 'error': {response}")
        return response["return"]

    def close(self) -> None:
        """Close the connection."""
        self._lines.close()
        self._sock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def _read_greeting(self) -> Greeting:
        message = self._read()
        hello = message.get("nicemu")
        if not isinstance(hello, dict):
            raise ControlError(f"{self.path} is not a nicemu control socket: it greeted with {message}")
        return Greeting(str(hello.get("version")), tuple(hello.get("commands", ())))

    def _send(self, request: dict[str, object]) -> None:
        try:
            self._sock.sendall(json.dumps(request).encode() + b"\n")
        except TimeoutError:
            raise ControlError(f"{self.path} took no request for {self.timeout:g} s") from None
        except OSError as error:
            raise ControlError(f"the connection to {self.path} failed: {error.strerror or error}") from None

    def _read(self) -> dict[str, object]:
        try:
            line = self._lines.readline()
        except TimeoutError:
            raise ControlError(f"{self.path} did not answer within {self.timeout:g} s") from None
        except OSError as error:
            raise ControlError(f"the connection to {self.path} failed: {error.strerror or error}") from None
        if not line:
            raise ControlError(f"{self.path} closed the connection")
        try:
            message = json.loads(line)
        except ValueError:
            raise ControlError(f"{self.path} answered with something that is not JSON: {line[:80]!r}") from None
        if not isinstance(message, dict):
            raise ControlError(f"{self.path} answered with {message!r}, not a JSON object")
        return message


def request(path: str, command: str, arguments: dict[str, object] | None = None, *,
            timeout: float = DEFAULT_TIMEOUT) -> object:
    """Connect to the control socket at ``path``, run one command and return what it returned."""
    with ControlClient(path, timeout) as client:
        return client.execute(command, arguments)


def parse_arguments(pairs: Sequence[str], json_text: str | None = None) -> dict[str, object]:
    """A command's arguments from the command line: ``KEY=VALUE`` words, or one JSON object.

    A VALUE that parses as JSON is taken as that (``length=64``,
    ``macs=["01:00:5e:00:00:01"]``, ``flag=true``); any other is a string
    (``adapter=nicemu0``). Raises ValueError saying what is wrong.
    """
    if json_text is not None:
        if pairs:
            raise ValueError("give the arguments either as KEY=VALUE or with --json, not both")
        try:
            arguments = json.loads(json_text)
        except ValueError as error:
            raise ValueError(f"--json: {json_text!r} is not JSON: {error}") from None
        if not isinstance(arguments, dict):
            raise ValueError(f"--json: {json_text!r} is not a JSON object like '{{\"adapter\": \"nicemu0\"}}'")
        return arguments
    arguments = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"{pair!r} is not KEY=VALUE")
        try:
            arguments[key] = json.loads(text)
        except ValueError:
            arguments[key] = text
    return arguments
