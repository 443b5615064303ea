"""``nicemu vm`` and ``nicemu demo``: an in-process nicemu with a guest VM on the other end of its wire."""

from __future__ import annotations

import argparse
import asyncio
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from nicemu.host import Host
from nicemu.qemu.server import NicemuServer
from nicemu.report import counters_table, print_report
from nicemu.vm.accel import choose_accel
from nicemu.vm.errors import VMError
from nicemu.vm.kit import REPO_ROOT, GuestKit, build_guest_kit
from nicemu.vm.machine import GuestResult, GuestVM
from nicemu.vm.netdev import attach

PING_SCRIPT = REPO_ROOT / "guest" / "scripts" / "ping.sh"

_PING_COUNTS = re.compile(r"(\d+) packets transmitted, (\d+) packets received, (\d+)% packet loss")
_PING_RTT = re.compile(r"round-trip min/avg/max = ([\d.]+)/([\d.]+)/([\d.]+) ms")
_NEIGHBOUR = re.compile(r"^10\.0\.2\.2 .*lladdr ([0-9a-f:]{17})", re.MULTILINE)


def _kit(progress: Console) -> GuestKit:
    """The guest kit, built first (once, cached) when it is not there yet."""
    with progress.status("guest kit: checking (built once, then cached under guest/build)"):
        return build_guest_kit(on_progress=lambda line: progress.log(line))


async def _boot(args: argparse.Namespace, host: Host, kit: GuestKit, script: Path | None, workdir: Path,
                on_console_line=None) -> tuple[NicemuServer, GuestVM]:
    server = NicemuServer(host)
    netdev = await attach(args.netdev, server, workdir)
    vm = GuestVM(kit, netdev, nic=args.nic, script=script, accel=args.accel,
                 timeout=getattr(args, "timeout", 120.0), on_console_line=on_console_line)
    return server, vm


async def run_vm(args: argparse.Namespace, host: Host) -> int:
    """Boot a guest against an in-process nicemu: its console here, or ``--script`` and its status."""
    err = Console(stderr=True, soft_wrap=True)
    if args.script is not None and not args.script.is_file():
        err.print(f"nicemu vm: --script {args.script}: no such file")
        return 2
    try:
        kit = await asyncio.to_thread(_kit, err)
        with tempfile.TemporaryDirectory(prefix="nicemu-vm-") as workdir:
            echo = (lambda line: print(line, flush=True)) if args.script else None
            server, vm = await _boot(args, host, kit, args.script, Path(workdir), echo)
            try:
                if args.script is None:
                    err.print(f"nicemu vm: {args.nic} on -netdev {args.netdev}; exit the guest's shell to stop")
                    status = await vm.interactive()
                else:
                    result = await vm.run_script()
                    status = _script_status(result, err)
            finally:
                await server.close()
            if args.report:
                print_report(server.report())
            return status
    except VMError as error:
        err.print(f"nicemu vm: {error}")
        return 1


def _script_status(result: GuestResult, err: Console) -> int:
    if result.timed_out:
        err.print(f"nicemu vm: the guest script did not finish in time ({result.elapsed:.1f} s)")
        return 124
    if result.status is None:
        err.print("nicemu vm: the guest stopped without reporting its script's status")
        return 1
    err.print(f"nicemu vm: guest script exited {result.status} after {result.elapsed:.1f} s")
    return result.status


@dataclass(frozen=True, slots=True)
class PingSummary:
    """What busybox ping printed at the end of its run."""

    transmitted: int
    received: int
    loss_percent: int
    rtt_ms: tuple[float, float, float] | None

    @classmethod
    def parse(cls, output: str) -> PingSummary | None:
        """Read the summary lines out of ping's output, or None when there are none."""
        counts = _PING_COUNTS.search(output)
        if counts is None:
            return None
        rtt = _PING_RTT.search(output)
        return cls(int(counts[1]), int(counts[2]), int(counts[3]),
                   tuple(float(v) for v in rtt.groups()) if rtt else None)  # type: ignore[arg-type]


async def run_demo(args: argparse.Namespace, host: Host) -> int:
    """Boot a guest, ping nicemu from it, and show the guest's view and nicemu's counters."""
    out = Console()
    started = time.monotonic()
    try:
        kit = await asyncio.to_thread(_kit, out)
        accel = await asyncio.to_thread(choose_accel, args.accel)
        out.print(f"[bold]nicemu demo[/]: kernel {kit.version}, {args.nic} on -netdev {args.netdev}, {accel.upper()}")
        with tempfile.TemporaryDirectory(prefix="nicemu-demo-") as workdir:
            args.accel = accel
            server, vm = await _boot(args, host, kit, PING_SCRIPT, Path(workdir))
            try:
                with out.status("booting the guest and pinging 10.0.2.2 ..."):
                    result = await vm.run_script()
            finally:
                await server.close()
    except VMError as error:
        out.print(f"[red]nicemu demo: {error}[/]")
        return 1
    ping = PingSummary.parse(result.output)
    out.print(_guest_table(args.nic, result, ping))
    out.print(counters_table(server.report(), title="nicemu, layer by layer"))
    ok = result.ok and ping is not None and ping.received == ping.transmitted > 0
    verdict = "[green]OK[/]" if ok else "[red]FAILED[/]"
    out.print(f"{verdict}: demo finished in {time.monotonic() - started:.1f} s")
    if not ok:
        out.print(result.console, markup=False, highlight=False)
    return 0 if ok else 1


def _guest_table(nic: str, result: GuestResult, ping: PingSummary | None) -> Table:
    ready = result.ready or {}
    table = Table(title="the guest", title_justify="left", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("NIC model / driver", f"{nic} / {ready.get('driver', '?')}")
    table.add_row("interface", f"{ready.get('iface', '?')} {ready.get('mac', '')} ip {ready.get('ip', '?')}")
    table.add_row("link", "carrier up" if ready.get("carrier") == "1" else "[red]no carrier[/]")
    boot = f"{result.boot_time:.1f} s" if result.boot_time is not None else "never came up"
    table.add_row("boot to network", boot)
    neighbour = _NEIGHBOUR.search(result.output)
    table.add_row("ARP 10.0.2.2", f"resolved to {neighbour[1]}" if neighbour else "[red]not resolved[/]")
    if ping is None:
        table.add_row("ping 10.0.2.2", "[red]no ping summary in the guest's output[/]")
    else:
        rtt = "" if ping.rtt_ms is None else " rtt min/avg/max {:.2f}/{:.2f}/{:.2f} ms".format(*ping.rtt_ms)
        style = "green" if ping.loss_percent == 0 else "red"
        table.add_row("ping 10.0.2.2", f"[{style}]{ping.received}/{ping.transmitted} replies, "
                                       f"{ping.loss_percent}% loss[/]{rtt}")
    table.add_row("script status", str(result.status))
    return table
