"""Where nicemu's time goes per reply: the frame-rate load, profiled.

``python -m bench.profile_stack [--kind icmp] [--frames 20000] [--sampler cprofile|py-spy]``

Starts the nicemu responder pinned to one CPU, drives it with the frame-rate
load generator from another, ends both, and prints where the responder's
time went, per reply (warm-up included).

``--sampler cprofile`` (the default) runs the responder under cProfile
(``bench.responders --profile``, from ``ready`` to the stop signal) and prints
every function's own time summed by layer, and nicemu's and construct's
functions with the most cumulative time, with their calls per reply. cProfile
adds a roughly fixed cost to every call, so code made of many small calls
looks slower than it is: the times are about twice the real ones; the call
counts are exact.

``--sampler py-spy`` samples the unmodified responder with py-spy (not a
dependency: ``pip install py-spy`` into the venv; it runs as root or with
ptrace allowed) and splits the samples by phase, walking each stack from the
innermost frame: a frame of a decoder (``decode_*``) or of an encoder
(``encode_*``, ``echo_reply_for``, ``fragment``, ``error_message``) claims the
sample for decode or encode; otherwise the innermost nicemu frame's module
does (transport, miniport, NDIS, switch, tcpip); a sample with no nicemu frame
is the event loop and the socket calls. Time in construct, enum, dataclass
``__init__`` and built-ins goes to whichever nicemu code called it. Sampling
adds no per-call cost, so these shares are the ones to trust; py-spy does slow
the whole process (it stops it for each sample), so the µs per reply come from
a first pass of the same load through the same process, unsampled: its CPU
time per reply, split by the shares. Samples that caught the event loop
waiting in epoll are idle time, counted apart.
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.frame_rate import DEFAULT_WINDOW, _end, _wait_ready, pinning, warmup_for
from bench.machine import ROOT
from bench.packets import KINDS

LAYERS = (
    ("nicemu/qemu/", "transport (nicemu/qemu)"),
    ("nicemu/host.py", "host (nicemu/host.py)"),
    ("nicemu/miniport/", "miniport (nicemu/miniport)"),
    ("nicemu/ndis/", "NDIS and NBLs (nicemu/ndis)"),
    ("nicemu/filters/", "filters (nicemu/filters)"),
    ("nicemu/protocols/vswitch.py", "switch (nicemu/protocols/vswitch.py, mac_table.py)"),
    ("nicemu/protocols/mac_table.py", "switch (nicemu/protocols/vswitch.py, mac_table.py)"),
    ("nicemu/protocols/", "tcpip (nicemu/protocols, but the switch)"),
    ("nicemu/wire/", "codecs (nicemu/wire)"),
    ("construct/", "construct (its library code)"),
    ("asyncio/", "asyncio"),
    ("enum.py", "enum (IntFlag and IntEnum arithmetic)"),
    ("<built-in", "built-ins (bytes, struct, dict, BytesIO ...)"),
    ("<method", "built-ins (bytes, struct, dict, BytesIO ...)"),
)
IDLE = "idle: waiting in epoll for the next frames"
COMPILED = "construct (compiled parsers and builders)"

PHASES = (
    "decode (nicemu/wire decode_*)",
    "encode (echo_reply_for, fragment, encode_*)",
    "tcpip (dispatch, ARP cache, reply logic)",
    "switch (nicemu/protocols/vswitch.py)",
    "NDIS (NBLs, indicate, send, complete, return)",
    "miniport (packet filter, statistics, queues)",
    "host (nicemu/host.py)",
    "transport (deframe, frame, write: nicemu/qemu)",
    "event loop and socket calls (asyncio, no nicemu frame)",
    "other nicemu",
)
_DECODERS = re.compile(r"^decode_")
_ENCODERS = re.compile(r"^(encode_\w+|echo_reply_for|fragment|error_message)$")
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>.*):(?P<line>\d+)\)$")


def layer_of(filename: str) -> str:
    """The layer a profiled function belongs to, from its file name (a name for built-ins)."""
    if filename == "":
        return COMPILED  # construct's compile() makes code with no file name
    if "'poll' of 'select.epoll'" in filename:
        return IDLE
    for needle, layer in LAYERS:
        if needle in filename:
            return layer
    return "other"


def phase_of(stack: list[tuple[str, str]]) -> str:
    """The phase one sampled stack (``(function, file)`` pairs, outermost first) belongs to."""
    for function, _file in reversed(stack):
        name = function.rsplit(".", 1)[-1]
        if _DECODERS.match(name):
            return PHASES[0]
        if _ENCODERS.match(name):
            return PHASES[1]
    for _function, file in reversed(stack):
        if not file.startswith("nicemu/") and "/nicemu/" not in file:
            continue
        file = file[file.index("nicemu/"):]
        if file.startswith(("nicemu/protocols/vswitch.py", "nicemu/protocols/mac_table.py")):
            return PHASES[3]
        for prefix, phase in (("nicemu/protocols/", PHASES[2]), ("nicemu/ndis/", PHASES[4]),
                              ("nicemu/miniport/", PHASES[5]), ("nicemu/host.py", PHASES[6]),
                              ("nicemu/qemu/", PHASES[7])):
            if file.startswith(prefix):
                return phase
        return PHASES[9]
    return PHASES[8]


def parse_raw_stacks(text: str) -> Counter[tuple[tuple[str, str], ...]]:
    """py-spy's ``--format raw`` output (collapsed stacks, ``a;b;c COUNT``) as stack → samples."""
    stacks: Counter[tuple[tuple[str, str], ...]] = Counter()
    for line in text.splitlines():
        if not line.strip():
            continue
        stack, count = line.rsplit(" ", 1)
        frames = []
        for frame in stack.split(";"):
            match = _FRAME.match(frame)
            frames.append((match["function"], match["file"]) if match else (frame, ""))
        stacks[tuple(frames)] += int(count)
    return stacks


def _idle(stack: tuple[tuple[str, str], ...]) -> bool:
    """Whether a sample caught the event loop waiting in epoll (py-spy does not always see that as idle)."""
    function, file = stack[-1]
    return function.endswith("Selector.select") and file.endswith("selectors.py")


def summarise_samples(stacks: Counter[tuple[tuple[str, str], ...]], replies: int, cpu_seconds: float,
                      top: int) -> dict[str, object]:
    """Shares of the busy samples by phase, and the functions most often on the stack.

    Samples waiting in epoll are idle, counted apart. µs per reply are the
    shares of ``cpu_seconds`` (the responder's CPU time in an unsampled pass)
    over ``replies``.
    """
    idle = sum(count for stack, count in stacks.items() if _idle(stack))
    total = sum(stacks.values()) - idle
    per_phase: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for stack, count in stacks.items():
        if _idle(stack):
            continue
        per_phase[phase_of(list(stack))] += count
        for key in {f"{file}:{function}" if file else function for function, file in stack}:
            inclusive[key] += count
    us_per_reply = cpu_seconds * 1e6 / replies if replies else 0.0
    return {
        "sampler": "py-spy",
        "samples": total,
        "idle_samples": idle,
        "replies": replies,
        "us_per_reply_measured": us_per_reply,
        "phases": {phase: {"share": per_phase[phase] / total, "us_per_reply": per_phase[phase] / total * us_per_reply}
                   for phase in PHASES if per_phase[phase]},
        "top_inclusive": [{"function": key, "share": count / total}
                          for key, count in inclusive.most_common()
                          if "nicemu/" in key or "construct/" in key][:top],
    }


def _where(func: tuple[str, int, str]) -> str:
    filename, line, name = func
    if filename.startswith("~"):
        return name
    if filename == "":
        return f"construct compiled: {name} (line {line})"
    for root in (str(ROOT) + "/", "site-packages/"):
        if root in filename:
            filename = filename.split(root, 1)[1]
            break
    return f"{filename}:{line}({name})"


def summarise_profile(stats: pstats.Stats, replies: int, top: int) -> dict[str, object]:
    """Self time by layer and the top functions by cumulative time, in microseconds per reply."""
    per_layer: dict[str, float] = {}
    functions = []
    busy = idle = 0.0
    for func, (_calls, ncalls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        filename = func[0] if not func[0].startswith("~") else func[2]
        layer = layer_of(filename)
        if layer == IDLE:
            idle += tottime
            continue
        per_layer[layer] = per_layer.get(layer, 0.0) + tottime
        busy += tottime
        if "nicemu/" in func[0] or "construct/" in func[0] or func[0] == "":
            functions.append((cumtime, tottime, ncalls, func))
    functions.sort(reverse=True)
    scale = 1e6 / replies
    return {
        "sampler": "cprofile",
        "replies": replies,
        "total_us_per_reply": busy * scale,
        "idle_us_per_reply": idle * scale,
        "self_time_by_layer_us_per_reply": dict(sorted(((k, v * scale) for k, v in per_layer.items()),
                                                       key=lambda item: -item[1])),
        "top_cumulative": [
            {"function": _where(func), "cumulative_us_per_reply": cum * scale, "self_us_per_reply": own * scale,
             "calls_per_reply": calls / replies}
            for cum, own, calls, func in functions[:top]
        ],
    }


def print_summary(summary: dict[str, object]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(Console().width, 120))
    if summary["sampler"] == "py-spy":
        phases = Table(title=f"nicemu sampled by py-spy: time by phase ({summary['samples']:,} busy samples, "
                             f"{summary['idle_samples']:,} idle in epoll; {summary['us_per_reply_measured']:.1f} "
                             "µs of CPU per reply, measured unsampled)")
        for column in ("phase", "share", "µs/reply"):
            phases.add_column(column, justify="left" if column == "phase" else "right")
        for phase, entry in summary["phases"].items():
            phases.add_row(phase, f"{entry['share']:.1%}", f"{entry['us_per_reply']:.1f}")
        console.print(phases)
        table = Table(title="nicemu and construct functions by share of samples on the stack (inclusive)")
        table.add_column("function")
        table.add_column("share", justify="right")
        for row in summary["top_inclusive"]:
            table.add_row(row["function"], f"{row['share']:.1%}")
        console.print(table)
        return
    total = summary["total_us_per_reply"]
    layers = Table(title=f"nicemu under cProfile: self time by layer, µs per reply ({summary['replies']:,} replies)")
    layers.add_column("layer")
    layers.add_column("µs/reply", justify="right")
    layers.add_column("share", justify="right")
    for layer, micros in summary["self_time_by_layer_us_per_reply"].items():
        layers.add_row(layer, f"{micros:.1f}", f"{micros / total:.0%}")
    layers.add_row("total busy (the whole process)", f"{total:.1f}", "100%")
    layers.add_row(IDLE, f"{summary['idle_us_per_reply']:.1f}", "")
    console.print(layers)
    table = Table(title="nicemu and construct functions by cumulative time, µs per reply")
    for column in ("function", "cumulative", "self", "calls/reply"):
        table.add_column(column, justify="left" if column == "function" else "right", no_wrap=column != "function")
    for row in summary["top_cumulative"]:
        table.add_row(row["function"], f"{row['cumulative_us_per_reply']:.1f}", f"{row['self_us_per_reply']:.1f}",
                      f"{row['calls_per_reply']:.2f}")
    console.print(table)


def _py_spy() -> str:
    found = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if found is None:
        raise SystemExit("profile_stack: py-spy is not installed (pip install py-spy into this venv; "
                         "it is not one of nicemu's dependencies)")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_stack", description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=KINDS, default="icmp")
    parser.add_argument("--frames", type=int, default=20_000)
    parser.add_argument("--window", type=int, default=DEFAULT_WINDOW)
    parser.add_argument("--sampler", choices=("cprofile", "py-spy"), default="cprofile")
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second (default 200)")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--out", type=Path, default=None,
                        help="keep the raw profile here (cProfile stats, or py-spy's collapsed stacks)")
    parser.add_argument("--json", type=Path, default=None, help="write the summary here")
    args = parser.parse_args(argv)
    spy_binary = _py_spy() if args.sampler == "py-spy" else None
    responder_cpu, loadgen_cpu = pinning()
    warmup = warmup_for(args.frames)
    with tempfile.TemporaryDirectory(prefix="nicemu-profile-") as tmp:
        workdir = Path(tmp)
        socket_path = str(workdir / "nicemu.sock")
        raw = args.out or workdir / ("nicemu.prof" if spy_binary is None else "nicemu.stacks")
        command = [sys.executable, "-m", "bench.responders", "nicemu", "--path", socket_path, "--kind", args.kind]
        if spy_binary is None:
            command += ["--profile", str(raw)]
        if responder_cpu is not None:
            command += ["--cpu", str(responder_cpu)]
        stderr_path = workdir / "nicemu.stderr"
        server = loadgen = spy = None
        try:
            with open(stderr_path, "wb") as stderr:
                server = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                          stderr=stderr)
            _wait_ready(server, stderr_path)
            command = [sys.executable, "-m", "bench.loadgen", "--path", socket_path, "--responder", "nicemu",
                       "--kind", args.kind, "--frames", str(args.frames), "--window", str(args.window),
                       "--warmup", str(warmup), "--responder-pid", str(server.pid)]
            if loadgen_cpu is not None:
                command += ["--cpu", str(loadgen_cpu)]
            unprofiled = None
            if spy_binary is not None:
                # py-spy stops the process for every sample, which slows it: measure the rate
                # first, unsampled, in this same process, and turn the shares into µs with it.
                loadgen = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
                out, _ = loadgen.communicate(timeout=600)
                unprofiled = json.loads(out)
                # On the load generator's CPU (it idles), with all its threads: not on the responder's.
                spy_cpu = loadgen_cpu
                spy = subprocess.Popen([spy_binary, "record", "--pid", str(server.pid), "--rate", str(args.rate),
                                        "--format", "raw", "--output", str(raw)],
                                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL,
                                       # The harness runs no threads, so preexec_fn is safe here.
                                       preexec_fn=(None if spy_cpu is None  # noqa: PLW1509
                                                   else lambda: os.sched_setaffinity(0, {spy_cpu})))
                time.sleep(1.0)  # let it attach; an idle responder gives it no samples
            loadgen = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
            out, _ = loadgen.communicate(timeout=600)
            if spy is not None:
                spy.send_signal(signal.SIGINT)  # py-spy writes its output when interrupted
                spy.wait(timeout=60)
        finally:
            _end(loadgen)
            _end(spy)
            _end(server)
        result = json.loads(out)
        for run in (unprofiled, result):
            if run is not None and ("error" in run or run["bad"]):
                print(f"profile_stack: the run failed: {run}", file=sys.stderr)
                return 1
        if unprofiled is None:
            summary = summarise_profile(pstats.Stats(str(raw)), result["replies"] + warmup, args.top)
        else:
            busy = unprofiled["responder_cpu"] if unprofiled.get("responder_cpu") is not None else 1.0
            summary = summarise_samples(parse_raw_stacks(Path(raw).read_text()), unprofiled["replies"],
                                        unprofiled["seconds"] * busy, args.top)
            summary["replies_per_second_unprofiled"] = unprofiled["replies_per_second"]
    summary.update(kind=args.kind, window=args.window, replies_per_second_profiled=result["replies_per_second"])
    print_summary(summary)
    if unprofiled is not None:
        print(f"{unprofiled['replies_per_second']:,.0f} replies/s unprofiled, then", file=sys.stderr)
    print(f"{result['replies_per_second']:,.0f} replies/s while profiled ({args.sampler})", file=sys.stderr)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
