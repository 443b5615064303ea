"""What can stop nicemu from booting a guest, each with what to do about it."""

from __future__ import annotations


class VMError(Exception):
    """Base of every error from ``nicemu.vm``; its message is meant for the user as is."""


class GuestKitMissing(VMError):
    """The guest kit (kernel, initramfs, kit.json) is not built, or is incomplete."""


class GuestKitBuildFailed(VMError):
    """``guest/build.sh`` exited with an error; its own output says why."""


class QemuMissing(VMError):
    """``qemu-system-x86_64`` is not installed."""


class QemuFailed(VMError):
    """QEMU exited with an error before the guest finished, e.g. on a bad ``-netdev``."""


class AccelUnavailable(VMError):
    """KVM was asked for explicitly, and the probe showed it does not work here."""
