"""What this host can run guests with: the QEMU binary, and TCG or KVM."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from nicemu.vm.errors import AccelUnavailable, GuestKitMissing, QemuMissing
from nicemu.vm.kit import GuestKit

QEMU_BINARY = "qemu-system-x86_64"
ACCELS = ("auto", "tcg", "kvm")
ENV_VAR = "NICEMU_ACCEL"
"""Environment variable that overrides the accelerator any caller asks for."""

KVM_DEVICE = Path("/dev/kvm")
_KERNEL_PROBE_SECONDS = 8.0
_BIOS_PROBE_SECONDS = 3.0

# A 64 KiB BIOS image whose reset vector (16 bytes below 4 GiB, the image's
# last 16 bytes) writes 0x31 to an isa-debug-exit device at port 0xf4, which
# makes QEMU exit with status (0x31 << 1) | 1 = 99: proof that guest code ran.
_BIOS_SIZE = 0x10000
_BIOS_RESET_CODE = bytes([
    0xB0, 0x31,  # mov al, 0x31
    0xE6, 0xF4,  # out 0xf4, al
    0xF4,        # hlt
    0xEB, 0xFE,  # jmp $
])
_BIOS_EXIT_STATUS = 99


def find_qemu() -> str:
    """The path of ``qemu-system-x86_64``; raises `QemuMissing` with how to install it."""
    path = shutil.which(QEMU_BINARY)
    if path is None:
        raise QemuMissing(
            f"{QEMU_BINARY} is not installed: run `make setup`, or `apt-get install qemu-system-x86`")
    return path


def _run_probe(argv: list[str], seconds: float) -> subprocess.CompletedProcess[bytes] | None:
    try:
        return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=seconds, check=False)
    except subprocess.TimeoutExpired:
        return None


def _boot_kernel(qemu: str, kit: GuestKit) -> str | None:
    # With no initramfs the kernel panics when it finds no root file system,
    # and panic=-1 with -no-reboot turns that into QEMU exiting with status 0:
    # a whole kernel boot, which real-mode code alone does not prove (a
    # nested KVM here ran the BIOS probe but hung in Linux with -cpu qemu64).
    argv = [qemu, "-accel", "kvm", "-cpu", "host", "-machine", "q35", "-m", "128M",
            "-nodefaults", "-no-user-config", "-display", "none", "-serial", "none",
            "-no-reboot", "-kernel", str(kit.kernel), "-append", "panic=-1 loglevel=0"]
    done = _run_probe(argv, _KERNEL_PROBE_SECONDS)
    if done is None:
        return f"a KVM guest kernel did not finish booting in {_KERNEL_PROBE_SECONDS:g} s"
    if done.returncode != 0:
        return f"QEMU with KVM failed (status {done.returncode}): {_last_line(done.stderr)}"
    return None


def _boot_bios(qemu: str) -> str | None:
    image = bytearray(b"\xf4" * _BIOS_SIZE)
    image[-16:-16 + len(_BIOS_RESET_CODE)] = _BIOS_RESET_CODE
    with tempfile.NamedTemporaryFile(prefix="nicemu-kvm-probe-", suffix=".bin") as bios:
        bios.write(image)
        bios.flush()
        argv = [qemu, "-accel", "kvm", "-cpu", "host", "-machine", "pc",
                "-nodefaults", "-no-user-config", "-display", "none",
                "-bios", bios.name, "-device", "isa-debug-exit,iobase=0xf4,iosize=1"]
        done = _run_probe(argv, _BIOS_PROBE_SECONDS)
    if done is None:
        return f"a KVM guest did not run in {_BIOS_PROBE_SECONDS:g} s"
    if done.returncode != _BIOS_EXIT_STATUS:
        return f"QEMU with KVM failed (status {done.returncode}): {_last_line(done.stderr)}"
    return None


def _last_line(stderr: bytes) -> str:
    lines = stderr.decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else "no message"


@functools.cache
def kvm_unusable_reason() -> str | None:
    """Why KVM cannot run guests here, or None when a probe guest booted with it.

    Checked once per process: /dev/kvm must be readable and writable, and
    QEMU must boot a guest with ``-accel kvm -cpu host`` within a few seconds
    (the guest kit's kernel when it is built, else a tiny BIOS image). A
    /dev/kvm that exists is not enough: in nested setups QEMU may abort on
    MSRs the host refuses, or hang in the guest.
    """
    if not KVM_DEVICE.exists():
        return f"{KVM_DEVICE} does not exist"
    if not os.access(KVM_DEVICE, os.R_OK | os.W_OK):
        return f"{KVM_DEVICE} is not readable and writable by this user"
    try:
        qemu = find_qemu()
    except QemuMissing as error:
        return str(error)
    try:
        kit = GuestKit.locate()
    except GuestKitMissing:
        return _boot_bios(qemu)
    return _boot_kernel(qemu, kit)


def probe_kvm() -> bool:
    """True only if KVM is usable: a probe guest really booted with it (cached)."""
    return kvm_unusable_reason() is None


def choose_accel(requested: str = "auto") -> str:
    """Resolve ``requested`` ("auto", "tcg" or "kvm") to the accelerator to use.

    ``$NICEMU_ACCEL``, when set, replaces ``requested``. "auto" is KVM only if
    `probe_kvm` says it works, else TCG. An explicit "kvm" that does not work
    raises `AccelUnavailable`, rather than leave QEMU to fail obscurely.
    """
    from_env = os.environ.get(ENV_VAR, "").strip().lower()
    choice = from_env or requested
    if choice not in ACCELS:
        source = f"${ENV_VAR}" if from_env else "the requested accelerator"
        raise ValueError(f"{source} is {choice!r}; choose one of {', '.join(ACCELS)}")
    if choice == "tcg":
        return "tcg"
    reason = kvm_unusable_reason()
    if choice == "kvm" and reason is not None:
        raise AccelUnavailable(
            f"KVM was asked for but does not work here ({reason.rstrip('.')}); use TCG (--accel tcg)")
    return "kvm" if reason is None else "tcg"
