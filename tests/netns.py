"""Network namespaces for tests: made, entered by the test's own thread, and always removed."""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator

import pytest

_CLONE_NEWNET = 0x40000000


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@contextlib.contextmanager
def entered_namespace() -> Iterator[str]:
    """A fresh namespace with only a multicast-capable loopback, entered by this thread.

    Sockets opened and processes started inside the block live in it, so
    their traffic (multicast included) never reaches a real interface.
    """
    if shutil.which("ip") is None:
        pytest.skip("iproute2's ip is not installed (make setup installs it)")
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    name = f"nicemu-test-{uuid.uuid4().hex[:8]}"
    libc = ctypes.CDLL(None, use_errno=True)
    _ip("netns", "add", name)
    original = os.open("/proc/self/ns/net", os.O_RDONLY)
    try:
        _ip("-n", name, "link", "set", "lo", "up", "multicast", "on")
        _ip("-n", name, "route", "add", "224.0.0.0/4", "dev", "lo")
        target = os.open(f"/run/netns/{name}", os.O_RDONLY)
        try:
            if libc.setns(target, _CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), f"setns into {name}")
        finally:
            os.close(target)
        try:
            yield name
        finally:
            if libc.setns(original, _CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back to the original namespace")
    finally:
        os.close(original)
        _ip("netns", "del", name)
