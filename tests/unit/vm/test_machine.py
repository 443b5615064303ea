"""GuestVM without booting: its QEMU command line, and its run logic against a fake QEMU."""

import asyncio
import os
import sys
from pathlib import Path

import pytest

from nicemu.vm import machine
from nicemu.vm.errors import QemuFailed, QemuMissing
from nicemu.vm.kit import GuestKit
from nicemu.vm.machine import GuestResult, GuestVM

FAKE_QEMU = Path(__file__).with_name("fake_qemu.py")
KIT = GuestKit(kernel=Path("/kit/vmlinux"), initrd=Path("/kit/initramfs.cpio"), version="6.1.0-99-amd64")


def option(argv, name):
    """Every value that follows ``name`` in ``argv``."""
    return [argv[i + 1] for i, arg in enumerate(argv) if arg == name]


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "test.sh"
    path.write_text("ping -c 1 10.0.2.2\n")
    return path


# --- command line ------------------------------------------------------------------


def test_command_line__boots_the_kit_with_tcg_and_a_quiet_serial_console(script):
    argv = GuestVM(KIT, "user,id=n0", script=script).command_line("tcg")
    assert argv[0] == "qemu-system-x86_64"
    assert option(argv, "-machine") == ["q35"]
    assert option(argv, "-accel") == ["tcg"]
    assert option(argv, "-cpu") == ["max"]
    assert option(argv, "-m") == ["256M"]
    assert option(argv, "-kernel") == ["/kit/vmlinux"]
    assert option(argv, "-initrd") == ["/kit/initramfs.cpio"]
    assert option(argv, "-serial") == ["stdio"]
    assert {"-nodefaults", "-no-user-config", "-no-reboot"} <= set(argv)
    assert option(argv, "-append") == [
        "console=ttyS0 quiet loglevel=3 panic=-1 nicemu.mode=script nicemu.ip=10.0.2.15/24 nicemu.gw=10.0.2.2"]


def test_command_line__one_nic_on_the_callers_netdev_without_its_option_rom(script):
    argv = GuestVM(KIT, "stream,id=n0,server=off,addr.type=unix,addr.path=/s", nic="e1000",
                   mac="52:54:00:AB:CD:EF", script=script).command_line("tcg")
    assert option(argv, "-netdev") == ["stream,id=n0,server=off,addr.type=unix,addr.path=/s"]
    assert option(argv, "-device") == ["e1000,netdev=n0,mac=52:54:00:ab:cd:ef,romfile="]


def test_command_line__nic_rom_keeps_the_option_rom(script):
    argv = GuestVM(KIT, "user,id=n0", script=script, nic_rom=True).command_line("tcg")
    assert option(argv, "-device") == ["virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56"]


def test_command_line__a_netdev_without_an_id_gets_one(script):
    argv = GuestVM(KIT, "user", script=script).command_line("tcg")
    assert option(argv, "-netdev") == ["user,id=n0"]
    assert option(argv, "-device")[0].startswith("virtio-net-pci,netdev=n0,")


def test_command_line__the_device_follows_the_netdevs_own_id(script):
    vm = GuestVM(KIT, "socket,connect=127.0.0.1:1234,id=uplink", script=script)
    assert vm.netdev_id == "uplink"
    assert option(vm.command_line("tcg"), "-device")[0].startswith("virtio-net-pci,netdev=uplink,")


def test_command_line__kvm_uses_the_host_cpu(script):
    argv = GuestVM(KIT, "user", script=script).command_line("kvm")
    assert option(argv, "-accel") == ["kvm"]
    assert option(argv, "-cpu") == ["host"]


def test_command_line__passes_the_script_by_fw_cfg_with_commas_escaped(tmp_path):
    script = tmp_path / "a,b.sh"
    script.write_text("true\n")
    argv = GuestVM(KIT, "user", script=script).command_line("tcg")
    assert option(argv, "-fw_cfg") == [f"name=opt/nicemu/script,file={tmp_path}/a,,b.sh"]


def test_command_line__no_script_no_fw_cfg():
    assert "-fw_cfg" not in GuestVM(KIT, "user").command_line("tcg")


def test_command_line__qmp_on_a_unix_socket(script, tmp_path):
    argv = GuestVM(KIT, "user", script=script).command_line("tcg", qmp_socket=tmp_path / "qmp.sock")
    assert option(argv, "-chardev") == [f"socket,id=qmp,path={tmp_path}/qmp.sock,server=on,wait=off"]
    assert option(argv, "-mon") == ["chardev=qmp,mode=control"]


def test_command_line__shell_mode_on_the_terminal():
    argv = GuestVM(KIT, "user", ip="192.168.7.2/24", gw="none").command_line(
        "tcg", mode="shell", console="mon:stdio")
    assert option(argv, "-serial") == ["mon:stdio"]
    assert option(argv, "-append")[0].endswith("nicemu.mode=shell nicemu.ip=192.168.7.2/24 nicemu.gw=none")


def test_command_line__extra_args_come_last(script):
    argv = GuestVM(KIT, "user", script=script, extra_args=["-object", "filter-dump,id=f0,netdev=n0,file=x"],
                   name="first").command_line("tcg")
    assert argv[-2:] == ["-object", "filter-dump,id=f0,netdev=n0,file=x"]
    assert option(argv, "-name") == ["first"]


@pytest.mark.parametrize("mac", ["52:54:00:12:34", "52-54-00-12-34-56", "52:54:00:12:34:5g"])
def test_constructor__refuses_a_bad_mac(mac):
    with pytest.raises(ValueError, match="MAC address"):
        GuestVM(KIT, "user", mac=mac)


def test_constructor__refuses_an_address_with_spaces():
    with pytest.raises(ValueError, match="one word"):
        GuestVM(KIT, "user", ip="10.0.2.15 /24")


def test_result__ok_is_status_zero():
    common = dict(output="", console="", ready=None, elapsed=1.0, timed_out=False)
    assert GuestResult(status=0, **common).ok
    assert not GuestResult(status=1, **common).ok
    assert not GuestResult(status=None, **common).ok


# --- runs against a fake QEMU -------------------------------------------------------


@pytest.fixture
def fake_qemu(tmp_path, monkeypatch):
    """Make GuestVM run tests/unit/vm/fake_qemu.py; returns a function that sets its mode."""
    wrapper = tmp_path / "qemu-system-x86_64"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_QEMU}" "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setattr(machine, "find_qemu", lambda: str(wrapper))
    monkeypatch.setattr(machine, "choose_accel", lambda requested: "tcg")
    monkeypatch.setattr(machine, "_POWEROFF_SECONDS", 0.5)
    monkeypatch.setattr(machine, "_QUIT_SECONDS", 0.5)
    monkeypatch.setattr(machine, "_TERM_SECONDS", 0.5)

    def set_mode(mode):
        monkeypatch.setenv("FAKE_QEMU_MODE", mode)
    return set_mode


def gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def test_run__returns_the_result_and_the_console(fake_qemu, script):
    fake_qemu("ok")
    lines = []
    vm = GuestVM(KIT, "user", script=script, timeout=10, on_console_line=lines.append)
    result = await vm.run_script()
    assert result.status == 3 and not result.ok
    assert not result.timed_out
    assert result.ready["driver"] == "fake"
    assert result.output == "script output\n"
    assert result.console.splitlines()[0] == "SeaBIOS noise"
    assert lines == result.console.splitlines()
    assert result.exit_code == 0
    assert ("SHUTDOWN", {"guest": True, "reason": "guest-shutdown"}) in result.events
    assert 0 < result.boot_time <= result.elapsed
    assert gone(vm._proc.pid)


async def test_run__a_timeout_quits_qemu(fake_qemu, script):
    fake_qemu("hang")
    vm = GuestVM(KIT, "user", script=script, timeout=0.5)
    result = await vm.run_script()
    assert result.timed_out
    assert result.status is None
    assert result.ready is not None
    assert 0.5 <= result.elapsed < 1.5
    assert result.events[-1] == ("SHUTDOWN", {"guest": False, "reason": "host-qmp-quit"})
    assert gone(vm._proc.pid)


async def test_run__a_qemu_that_ignores_quit_and_sigterm_is_killed(fake_qemu, script):
    fake_qemu("stubborn")
    vm = GuestVM(KIT, "user", script=script, timeout=0.3)
    result = await vm.run_script()
    assert result.timed_out
    assert gone(vm._proc.pid)


async def test_run__cancelling_stops_qemu(fake_qemu, script):
    fake_qemu("hang")
    vm = GuestVM(KIT, "user", script=script, timeout=30)
    task = asyncio.create_task(vm.run_script())
    while vm._console.ready is None:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert gone(vm._proc.pid)
    assert vm._workdir is None


async def test_run__qemu_failing_raises_with_its_message(fake_qemu, script):
    fake_qemu("fail")
    with pytest.raises(QemuFailed, match="status 1: qemu-system-x86_64: -netdev bogus: invalid"):
        await GuestVM(KIT, "user", script=script, timeout=10).run_script()


async def test_run__a_guest_that_stops_without_a_result_has_no_status(fake_qemu, script):
    fake_qemu("crash")
    result = await GuestVM(KIT, "user", script=script, timeout=10).run_script()
    assert result.status is None
    assert not result.timed_out
    assert result.exit_code == 0


async def test_run__a_failing_console_callback_is_raised_and_qemu_stopped(fake_qemu, script):
    fake_qemu("hang")

    def callback(line):
        raise RuntimeError("callback broke")
    vm = GuestVM(KIT, "user", script=script, timeout=10, on_console_line=callback)
    with pytest.raises(RuntimeError, match="callback broke"):
        await vm.run_script()
    assert gone(vm._proc.pid)


async def test_context__gives_qmp_while_the_guest_runs(fake_qemu, script):
    fake_qemu("hang")
    async with GuestVM(KIT, "user", script=script, timeout=0.5) as vm:
        assert await vm.qmp.execute("query-status") == {}
        result = await vm.wait()
    assert result.timed_out
    assert gone(vm._proc.pid)
    with pytest.raises(RuntimeError, match="not running"):
        _ = vm.qmp


async def test_run__without_a_script_is_refused():
    with pytest.raises(ValueError, match="needs a script"):
        await GuestVM(KIT, "user").run_script()


async def test_run__a_missing_script_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.sh"):
        await GuestVM(KIT, "user", script=tmp_path / "nope.sh").run_script()


async def test_run__without_qemu_says_how_to_install_it(monkeypatch, script):
    monkeypatch.setattr(machine.shutil, "which", lambda name: None)
    with pytest.raises(QemuMissing, match="apt-get install qemu-system-x86"):
        await GuestVM(KIT, "user", script=script).run_script()
