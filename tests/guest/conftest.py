"""Tier 3: real guests from the guest kit, booted with QEMU under TCG, against nicemu."""

from __future__ import annotations

import shutil

import pytest

from nicemu.vm.errors import GuestKitMissing
from nicemu.vm.kit import GuestKit

PING_GATEWAY = "ping -c 3 -W 2 10.0.2.2\n"


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/guest/" in str(item.fspath):
            item.add_marker(pytest.mark.guest)


@pytest.fixture(scope="session")
def kit() -> GuestKit:
    """The built guest kit; without it (or QEMU) the tier skips, which fails under CI=true."""
    if shutil.which("qemu-system-x86_64") is None:
        pytest.skip("qemu-system-x86_64 is not installed (make setup installs it)")
    try:
        return GuestKit.locate()
    except GuestKitMissing as error:
        pytest.skip(str(error))


@pytest.fixture
def ping_script(tmp_path):
    """A guest script that pings the gateway three times."""
    path = tmp_path / "ping.sh"
    path.write_text(PING_GATEWAY)
    return path


def assert_all_pings_answered(result) -> None:
    """The guest ran its script and every ping got its reply."""
    assert not result.timed_out, result.console
    assert result.status == 0, result.console
    assert "3 packets transmitted, 3 packets received, 0% packet loss" in result.output, result.console
