"""The guest's serial console as the host reads it: lines, and the two lines /init prints.

guest/init prints ``NICEMU-READY iface=eth0 driver=e1000 mac=... carrier=1
ip=...`` once the NIC is configured, then the test script's output, then
``NICEMU-RESULT status=N``. Sans-IO: bytes in, lines and fields out.
"""

from __future__ import annotations

import re

READY_MARK = "NICEMU-READY"
RESULT_MARK = "NICEMU-RESULT"

# Searched for, not matched at the line's start: a kernel message printed
# without a newline can put text in front of the marker on the serial line.
_READY = re.compile(rf"{READY_MARK}((?: +[A-Za-z_][A-Za-z0-9_]*=\S*)*) *$")
_RESULT = re.compile(rf"{RESULT_MARK} status=(\d+) *$")


def parse_ready(line: str) -> dict[str, str] | None:
    """The ``key=value`` fields of a NICEMU-READY line, or None for any other line."""
    found = _READY.search(line)
    if found is None:
        return None
    return dict(field.split("=", 1) for field in found.group(1).split())


def parse_result(line: str) -> int | None:
    """The status of a NICEMU-RESULT line, or None for any other line."""
    found = _RESULT.search(line)
    return int(found.group(1)) if found else None


class LineSplitter:
    """Turns console bytes, in chunks of any size, into text lines without line ends."""

    def __init__(self) -> None:
        self._partial = b""

    def feed(self, data: bytes) -> list[str]:
        """The lines that ``data`` completes."""
        *complete, self._partial = (self._partial + data).split(b"\n")
        return [_decode(line) for line in complete]

    def flush(self) -> list[str]:
        """The unterminated last line, if any, once the console has closed."""
        rest, self._partial = self._partial, b""
        return [_decode(rest)] if rest else []


def _decode(line: bytes) -> str:
    # The serial line ends lines with CRLF, and a crashing guest can send
    # anything.
    return line.rstrip(b"\r").decode("utf-8", errors="replace")


class ConsoleLog:
    """Everything the guest printed, and what its READY and RESULT lines said."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.ready: dict[str, str] | None = None
        self.status: int | None = None
        self._output: list[str] = []

    def feed(self, line: str) -> None:
        """Record one console line."""
        self.lines.append(line)
        if self.status is not None:
            return
        # A guest whose NIC never came up prints a RESULT with no READY.
        self.status = parse_result(line)
        if self.status is not None:
            return
        if self.ready is None:
            self.ready = parse_ready(line)
        else:
            self._output.append(line)

    @property
    def finished(self) -> bool:
        """True once the NICEMU-RESULT line has been seen."""
        return self.status is not None

    @property
    def output(self) -> str:
        """The test script's output: the lines between NICEMU-READY and NICEMU-RESULT."""
        return "".join(f"{line}\n" for line in self._output)

    @property
    def text(self) -> str:
        """The whole console."""
        return "".join(f"{line}\n" for line in self.lines)
