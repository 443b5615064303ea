"""Booting QEMU guests from the guest kit against a network, and controlling them over QMP."""

from nicemu.vm.errors import (
    AccelUnavailable,
    GuestKitBuildFailed,
    GuestKitMissing,
    QemuFailed,
    QemuMissing,
    VMError,
)
from nicemu.vm.kit import GuestKit, build_guest_kit
from nicemu.vm.machine import GuestResult, GuestVM

__all__ = [
    "AccelUnavailable",
    "GuestKit",
    "GuestKitBuildFailed",
    "GuestKitMissing",
    "GuestResult",
    "GuestVM",
    "QemuFailed",
    "QemuMissing",
    "VMError",
    "build_guest_kit",
]
