"""Frame rate of the stack: small frames through nicemu, against baselines measured in the same run.

``python -m bench.frame_rate`` (from the repository root; ``make bench`` runs it).

A load generator speaking QEMU's stream protocol (``bench/loadgen.py``) sends
small frames as fast as a responder answers them, keeping a bounded window in
flight, and counts the replies per second. Three responders, each in a
process of its own (``bench/responders.py``), pinned to one CPU while the load
generator is pinned to another:

- ``nicemu``: ``NicemuServer(Host())`` on a unix socket, every layer;
- ``ceiling``: the wire ceiling, deframe and write each frame back, no decoding;
- ``scapy``: a responder written with scapy's packet classes, as a user would.

Kinds of frame: ``icmp`` (echo requests, 98 bytes), ``arp`` (requests, 42
bytes) and ``udp`` (74-byte datagrams to port 7). nicemu has no UDP echo
service yet, so ``udp`` measures its ICMP port-unreachable path, with the ICMP
error rate limit lifted in the benchmark's nicemu process.

Each responder and kind is run ``--runs`` times, interleaved (one round runs
every kind and responder once) so drift on the machine hits them alike. The
table and the JSON give medians, and the ratios are of medians measured in
this same run. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import selectors
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bench.machine import ROOT, machine, versions
from bench.packets import KINDS
from bench.responders import RESPONDERS

DEFAULT_FRAMES = 50_000
DEFAULT_WINDOW = 256
DEFAULT_RUNS = 5
CEILING_SCALE = 4
"""The wire ceiling answers some 30 times faster than nicemu: it gets this many times the frames."""
SCAPY_DIVISOR = 20
"""scapy answers some 20 times slower than nicemu: it gets this fraction of the frames."""
QUICK = {"frames": 10_000, "runs": 3}
GOALS = {"icmp_replies_per_second": 50_000, "icmp_nicemu_over_scapy": 10.0}
"""Issue 7's goals for nicemu, reported against (never asserted)."""
READY_TIMEOUT = 30.0
OTHER_CPU_WARNING = 0.2
"""CPUs' worth of busy time from other processes during a timed run above which the table warns."""


def frames_for(responder: str, frames: int, ceiling_frames: int | None, scapy_frames: int | None) -> int:
    """How many timed frames each responder gets, so that each run lasts a comparable time."""
    if responder == "ceiling":
        return ceiling_frames if ceiling_frames is not None else frames * CEILING_SCALE
    if responder == "scapy":
        return scapy_frames if scapy_frames is not None else max(frames // SCAPY_DIVISOR, min(frames, 200))
    return frames


def warmup_for(frames: int) -> int:
    """Untimed frames sent first: a tenth of the timed ones, at most 1,000."""
    return min(1_000, frames // 10)


def pinning() -> tuple[int | None, int | None]:
    """The CPUs for the responder and the load generator: two different ones when there are two."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None
    return cpus[0], cpus[1]


def _end(process: subprocess.Popen[bytes] | None) -> None:
    """End a process this harness started, by its PID: SIGTERM, then SIGKILL if it lingers; close its pipes."""
    if process is None:
        return
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for pipe in (process.stdout, process.stderr):
        if pipe is not None:
            pipe.close()


def _wait_ready(process: subprocess.Popen[bytes], stderr_path: Path) -> None:
    """Wait for the responder's ``ready`` line; raise with its stderr if it dies or stays silent."""
    assert process.stdout is not None
    deadline = time.monotonic() + READY_TIMEOUT
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RuntimeError(f"the responder did not become ready in {READY_TIMEOUT:.0f} s")
            if selector.select(remaining):
                line = process.stdout.readline()
                if line.strip() == b"ready":
                    return
                if not line:
                    raise RuntimeError("the responder exited before it was ready: "
                                       + stderr_path.read_text(errors="replace")[-2000:])


@contextlib.contextmanager
def responder_process(responder: str, kind: str, socket_path: str, cpu: int | None,
                      workdir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A responder in its own process, listening on ``socket_path``; always ended on the way out."""
    stderr_path = workdir / f"{responder}.stderr"
    command = [sys.executable, "-m", "bench.responders", responder, "--path", socket_path, "--kind", kind]
    if cpu is not None:
        command += ["--cpu", str(cpu)]
    process = None
    try:
        with open(stderr_path, "wb") as stderr:
            process = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=stderr)
        _wait_ready(process, stderr_path)
        yield process
    finally:
        _end(process)


def one_run(responder: str, kind: str, frames: int, window: int, check_every: int, cpus: tuple[int | None, int | None],
            workdir: Path) -> dict[str, object]:
    """Start the responder, run the load generator against it, end both; the load generator's result."""
    socket_path = str(workdir / f"{responder}.sock")
    warmup = warmup_for(frames)
    responder_cpu, loadgen_cpu = cpus
    try:
        return _run_against(responder, kind, frames, warmup, window, check_every, loadgen_cpu, socket_path,
                            responder_cpu, workdir)
    except RuntimeError as error:
        return {"error": str(error)}


def _run_against(responder: str, kind: str, frames: int, warmup: int, window: int, check_every: int,
                 loadgen_cpu: int | None, socket_path: str, responder_cpu: int | None,
                 workdir: Path) -> dict[str, object]:
    with responder_process(responder, kind, socket_path, responder_cpu, workdir) as server:
        command = [sys.executable, "-m", "bench.loadgen", "--path", socket_path, "--responder", responder,
                   "--kind", kind, "--frames", str(frames), "--window", str(window), "--warmup", str(warmup),
                   "--check-every", str(check_every), "--responder-pid", str(server.pid)]
        if loadgen_cpu is not None:
            command += ["--cpu", str(loadgen_cpu)]
        loadgen = None
        try:
            loadgen = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE)
            try:
                out, err = loadgen.communicate(timeout=120 + (frames + warmup) / 100)
            except subprocess.TimeoutExpired:
                return {"error": "the load generator did not finish in time", "pids": [server.pid, loadgen.pid]}
            pids = [server.pid, loadgen.pid]
        finally:
            _end(loadgen)
    try:
        result = json.loads(out)
    except json.JSONDecodeError:
        result = {"error": f"the load generator failed (exit {loadgen.returncode}): "
                           f"{err.decode(errors='replace')[-2000:]}"}
    if "error" not in result and server.returncode not in (0, None):
        result["error"] = f"the responder exited with status {server.returncode}"
    result["pids"] = pids
    return result


def _median(runs: list[dict[str, object]], key: str) -> float | None:
    values = [run[key] for run in runs if run.get(key) is not None]
    return statistics.median(values) if values else None


def summarise(kind: str, responder: str, frames: int, runs: list[dict[str, object]]) -> dict[str, object]:
    """Medians (and spread) over the runs of one responder on one kind."""
    good = [run for run in runs if "error" not in run]
    rates = [run["replies_per_second"] for run in good]
    return {
        "kind": kind,
        "responder": responder,
        "frames": frames,
        "runs_ok": len(good),
        "median_replies_per_second": statistics.median(rates) if rates else None,
        "min_replies_per_second": min(rates) if rates else None,
        "max_replies_per_second": max(rates) if rates else None,
        "median_responder_cpu": _median(good, "responder_cpu"),
        "median_loadgen_cpu": _median(good, "loadgen_cpu"),
        "max_other_cpu": max((run["other_cpu"] for run in good if run.get("other_cpu") is not None), default=None),
        "replies": sum(run["replies"] for run in good),
        "checked": sum(run["checked"] for run in good),
        "bad": sum(run["bad"] for run in good),
        "errors": [run["error"] for run in runs if "error" in run],
        "runs": runs,
    }


def ratios(results: list[dict[str, object]]) -> dict[str, dict[str, float | None]]:
    """Per kind: nicemu's median rate over the ceiling's and over scapy's."""
    median = {(r["kind"], r["responder"]): r["median_replies_per_second"] for r in results}
    out: dict[str, dict[str, float | None]] = {}
    for kind in dict.fromkeys(r["kind"] for r in results):
        nicemu = median.get((kind, "nicemu"))
        entry: dict[str, float | None] = {}
        for baseline in ("ceiling", "scapy"):
            other = median.get((kind, baseline))
            if (kind, baseline) in median and (kind, "nicemu") in median:
                entry[f"nicemu_over_{baseline}"] = nicemu / other if nicemu and other else None
        out[kind] = entry
    return out


def print_table(report: dict[str, object]) -> None:
    """The results as a rich table, the ratios and the goals after it."""
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(Console().width, 120))
    params = report["parameters"]
    info = report["machine"]
    table = Table(title=f"Frame rate: replies per second, median of {params['runs']} run(s), "
                        f"window {params['window']}")
    for column in ("kind", "responder", "frames/run", "replies/s", "min – max", "CPU resp./load",
                   "nicemu ÷ this", "checked"):
        table.add_column(column, justify="left" if column in ("kind", "responder") else "right", no_wrap=True)
    ratio_of = report["ratios"]
    for result in report["results"]:
        rate = result["median_replies_per_second"]
        kind, responder = result["kind"], result["responder"]
        if responder == "nicemu":
            relative = "1"
        else:
            value = ratio_of.get(kind, {}).get(f"nicemu_over_{responder}")
            relative = f"{value:.3g}" if value is not None else "–"
        spread = (f"{result['min_replies_per_second']:,.0f} – {result['max_replies_per_second']:,.0f}"
                  if rate is not None else "–")
        cpu, load = result["median_responder_cpu"], result["median_loadgen_cpu"]
        cpus = " / ".join(f"{value:.0%}" if value is not None else "–" for value in (cpu, load))
        checked = f"{result['checked']:,}, {result['bad']} bad"
        if result["errors"]:
            checked += f", {len(result['errors'])} runs failed"
        table.add_row(kind, responder, f"{result['frames']:,}", f"{rate:,.0f}" if rate is not None else "failed",
                      spread, cpus, relative, checked)
    console.print(table)
    console.print(f"machine: {info['cpu_model']}, {info['nproc']} CPUs, {info['platform']}; "
                  f"responder on CPU {params['responder_cpu']}, load generator on CPU {params['loadgen_cpu']}")
    vers = report["versions"]
    console.print(f"versions: {vers['python']}, nicemu {vers['nicemu']} ({vers['nicemu_commit']}"
                  f"{', modified' if vers['nicemu_tree_modified'] else ''}), construct {vers['construct']}, "
                  f"scapy {vers['scapy']}")
    busiest = max((r["max_other_cpu"] for r in report["results"] if r["max_other_cpu"] is not None), default=None)
    if busiest is not None and busiest > OTHER_CPU_WARNING:
        console.print(f"[bold]warning:[/bold] something else used up to {busiest:.2f} CPUs during a timed run: "
                      "the numbers are not from a quiet machine")
    icmp = ratio_of.get("icmp", {})
    nicemu_icmp = next((r["median_replies_per_second"] for r in report["results"]
                        if r["kind"] == "icmp" and r["responder"] == "nicemu"), None)
    if nicemu_icmp is not None:
        line = (f"goals (issue 7, reported, not asserted): ICMP echo {nicemu_icmp:,.0f}/s "
                f"(goal ≥ {GOALS['icmp_replies_per_second']:,})")
        if icmp.get("nicemu_over_scapy") is not None:
            line += f"; {icmp['nicemu_over_scapy']:.1f}× scapy (goal ≥ {GOALS['icmp_nicemu_over_scapy']:g}×)"
        if icmp.get("nicemu_over_ceiling") is not None:
            line += f"; {icmp['nicemu_over_ceiling']:.3f} of the wire ceiling"
        console.print(line)


def run_benchmark(kinds: list[str], responders: list[str], frames: int, ceiling_frames: int | None,
                  scapy_frames: int | None, window: int, runs: int, check_every: int,
                  progress: bool = True) -> dict[str, object]:
    """Run every kind and responder ``runs`` times, interleaved; the whole report."""
    cpus = pinning()
    counts = {r: frames_for(r, frames, ceiling_frames, scapy_frames) for r in responders}
    collected: dict[tuple[str, str], list[dict[str, object]]] = {(k, r): [] for k in kinds for r in responders}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="nicemu-bench-") as tmp:
        for round_ in range(runs):
            for kind in kinds:
                for responder in responders:
                    result = one_run(responder, kind, counts[responder], window, check_every, cpus, Path(tmp))
                    collected[(kind, responder)].append(result)
                    if progress:
                        rate = result.get("replies_per_second")
                        state = f"{rate:,.0f} replies/s" if rate is not None else f"FAILED: {result['error']}"
                        print(f"run {round_ + 1}/{runs} {kind:<4} {responder:<7} {state}", file=sys.stderr,
                              flush=True)
    results = [summarise(k, r, counts[r], collected[(k, r)]) for k in kinds for r in responders]
    ok = all(not r["errors"] and r["bad"] == 0 and r["runs_ok"] == runs for r in results)
    return {
        "benchmark": "frame_rate",
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": [Path(sys.executable).name, "-m", "bench.frame_rate", *sys.argv[1:]],
        "seconds": round(time.monotonic() - started, 1),
        "machine": machine(),
        "versions": versions(),
        "parameters": {
            "kinds": kinds,
            "responders": responders,
            "frames": {r: counts[r] for r in responders},
            "warmup": {r: warmup_for(counts[r]) for r in responders},
            "window": window,
            "runs": runs,
            "check_every": check_every,
            "responder_cpu": cpus[0],
            "loadgen_cpu": cpus[1],
            "transport": "unix stream socket, QEMU stream framing (4-byte big-endian length)",
        },
        "goals": GOALS,
        "results": results,
        "ratios": ratios(results),
        "ok": ok,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.frame_rate",
                                     description="Frame rate of nicemu's stack against a wire ceiling and a "
                                                 "scapy responder measured in the same run.")
    parser.add_argument("--frames", type=int, default=None,
                        help=f"timed frames per run for nicemu (default {DEFAULT_FRAMES:,}); the ceiling gets "
                             f"{CEILING_SCALE}× and scapy 1/{SCAPY_DIVISOR} of it unless told otherwise")
    parser.add_argument("--ceiling-frames", type=int, default=None, help="timed frames per run for the ceiling")
    parser.add_argument("--scapy-frames", type=int, default=None, help="timed frames per run for scapy")
    parser.add_argument("--window", type=int, default=DEFAULT_WINDOW,
                        help=f"frames in flight (default {DEFAULT_WINDOW})")
    parser.add_argument("--runs", type=int, default=None, help=f"runs per responder and kind (default {DEFAULT_RUNS})")
    parser.add_argument("--kind", action="append", choices=KINDS,
                        help="icmp, arp or udp (udp: nicemu's ICMP port-unreachable path); repeat for several; "
                             "default all")
    parser.add_argument("--responder", action="append", choices=RESPONDERS, help="default all three")
    parser.add_argument("--check-every", type=int, default=64,
                        help="check every Nth reply in full (and the last); 1 checks them all (default 64)")
    parser.add_argument("--json", type=Path, default=None, help="write the report here")
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK['frames']:,} frames, {QUICK['runs']} runs (unless given)")
    parser.add_argument("--no-table", action="store_true", help="do not print the table")
    args = parser.parse_args(argv)
    if args.frames is None:
        args.frames = QUICK["frames"] if args.quick else DEFAULT_FRAMES
    if args.runs is None:
        args.runs = QUICK["runs"] if args.quick else DEFAULT_RUNS
    for name in ("frames", "window", "runs", "check_every"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = run_benchmark(args.kind or list(KINDS), args.responder or list(RESPONDERS), args.frames,
                           args.ceiling_frames, args.scapy_frames, args.window, args.runs, args.check_every)
    if not args.no_table:
        print_table(report)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)
    if not report["ok"]:
        print("frame_rate: some runs failed or some replies were wrong (see the table and the JSON)",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
