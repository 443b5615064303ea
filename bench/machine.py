"""What every benchmark records next to its numbers: the machine and the versions."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
"""The repository (the directory holding ``bench/`` and ``nicemu/``)."""


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, or the platform's guess."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict[str, object]:
    """Platform, CPU model and how many CPUs there are (and how many this process may use)."""
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": cpu_model(),
        "nproc": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
    }


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def versions() -> dict[str, object]:
    """Python, nicemu (the commit measured, and whether nicemu/ had uncommitted changes), construct, scapy, rich."""
    import nicemu

    status = _git("status", "--porcelain", "--untracked-files=no", "--", "nicemu", "pyproject.toml")
    return {
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "nicemu": nicemu.__version__,
        "nicemu_commit": _git("rev-parse", "--short=12", "HEAD"),
        "nicemu_tree_modified": None if status is None else bool(status),
        "construct": _version("construct"),
        "scapy": _version("scapy"),
        "rich": _version("rich"),
    }
