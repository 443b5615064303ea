"""The guest kit on its own: it boots, brings its NIC up and runs scripts, on QEMU's user networking.

No nicemu here: QEMU's slirp answers at 10.0.2.2, so a failure points at the
kit (kernel, modules, /init) or at GuestVM, not at nicemu's stack.
"""

import os

import pytest

from nicemu.vm.kit import REPO_ROOT
from nicemu.vm.machine import GuestVM

pytestmark = pytest.mark.guest

PING_SCRIPT = REPO_ROOT / "guest" / "scripts" / "ping.sh"
SLIRP_MAC = "52:55:0a:00:02:02"


async def test_guest_kit__ping_sh_passes_on_user_networking(kit):
    result = await GuestVM(kit, "user,id=n0", script=PING_SCRIPT, timeout=90, name="kit-ping").run_script()
    assert result.ok, result.console
    assert result.ready == {"iface": "eth0", "driver": "virtio_net", "mac": "52:54:00:12:34:56",
                            "carrier": "1", "ip": "10.0.2.15/24"}
    assert "5 packets transmitted, 5 packets received, 0% packet loss" in result.output
    assert f"10.0.2.2 lladdr {SLIRP_MAC}" in result.output
    assert ("SHUTDOWN", {"guest": True, "reason": "guest-shutdown"}) in result.events
    assert result.exit_code == 0


async def test_guest_kit__e1000_waits_for_carrier_and_returns_the_script_status(kit, tmp_path):
    script = tmp_path / "status.sh"
    script.write_text('echo "carrier $(cat /sys/class/net/$IFACE/carrier) $(ip route | grep ^default)"\nexit 7\n')
    result = await GuestVM(kit, "user", nic="e1000", script=script, timeout=90, name="kit-e1000").run_script()
    assert result.status == 7, result.console
    assert result.ready["driver"] == "e1000"
    assert result.output == "carrier 1 default via 10.0.2.2 dev eth0 \n"


async def test_guest_kit__a_script_past_its_timeout_leaves_no_qemu(kit, tmp_path):
    script = tmp_path / "sleep.sh"
    script.write_text("sleep 100\n")
    vm = GuestVM(kit, "user", script=script, timeout=5, name="kit-timeout")
    result = await vm.run_script()
    assert result.timed_out
    assert result.status is None
    with pytest.raises(ProcessLookupError):
        os.kill(vm._proc.pid, 0)
