"""The guest kit: the kernel and initramfs that ``guest/build.sh`` builds."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nicemu.vm.errors import GuestKitBuildFailed, GuestKitMissing

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO_ROOT / "guest" / "build.sh"
DEFAULT_BUILD_DIR = REPO_ROOT / "guest" / "build"
ENV_VAR = "NICEMU_GUEST_KIT"
"""Environment variable naming the kit's directory, for a kit built elsewhere."""


def kit_dir(build_dir: Path | None = None) -> Path:
    """The kit's directory: ``build_dir``, else ``$NICEMU_GUEST_KIT``, else ``guest/build``."""
    if build_dir is not None:
        return Path(build_dir)
    from_env = os.environ.get(ENV_VAR)
    return Path(from_env) if from_env else DEFAULT_BUILD_DIR


@dataclass(frozen=True, slots=True)
class GuestKit:
    """A built guest kit: what QEMU's ``-kernel`` and ``-initrd`` take."""

    kernel: Path
    initrd: Path
    version: str

    @classmethod
    def locate(cls, build_dir: Path | None = None) -> GuestKit:
        """Read the kit in ``build_dir`` (see `kit_dir`) from its ``kit.json``.

        Raises `GuestKitMissing` when the kit is not built or a file it names
        is gone.
        """
        directory = kit_dir(build_dir)
        manifest = directory / "kit.json"
        if directory == DEFAULT_BUILD_DIR:
            how = "run `make guest` to build it"
        else:
            how = f"run `guest/build.sh {directory}` to build it there (`make guest` builds {DEFAULT_BUILD_DIR})"
        if not manifest.is_file():
            raise GuestKitMissing(f"the guest kit is not built ({manifest} does not exist): {how}")
        try:
            data = json.loads(manifest.read_text())
            kit = cls(
                kernel=directory / data["kernel"],
                initrd=directory / data["initrd"],
                version=str(data["kernel_version"]),
            )
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise GuestKitMissing(f"{manifest} is unreadable ({error!r}): {how}") from error
        for path in (kit.kernel, kit.initrd):
            if not path.is_file():
                raise GuestKitMissing(f"the guest kit is incomplete ({path} does not exist): {how}")
        return kit


def build_guest_kit(
    build_dir: Path | None = None,
    *,
    force: bool = False,
    on_progress: Callable[[str], None] | None = None,
) -> GuestKit:
    """Run ``guest/build.sh`` (a no-op when the kit is up to date) and locate the result.

    Its progress lines go to ``on_progress`` when given, otherwise straight to
    this process's stdout and stderr. Raises `GuestKitBuildFailed` when the
    script fails.
    """
    directory = kit_dir(build_dir)
    argv = ["bash", str(BUILD_SCRIPT), *(["--force"] if force else []), str(directory)]
    if on_progress is None:
        returncode = subprocess.run(argv, check=False).returncode
    else:
        with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, errors="replace") as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                on_progress(line.rstrip("\n"))
        returncode = proc.returncode
    if returncode != 0:
        raise GuestKitBuildFailed(f"{BUILD_SCRIPT} failed (exit status {returncode}); its output says why")
    return GuestKit.locate(directory)
