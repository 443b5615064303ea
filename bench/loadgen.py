"""The load generator of the frame-rate benchmark: a process of its own, plain blocking sockets.

``python -m bench.loadgen --path SOCKET --responder R --kind K --frames N --window W``
connects to a responder over a unix stream socket, speaks QEMU's stream
framing (4-byte big-endian length, then the frame), keeps ``W`` frames in
flight (it sends one more for each reply, batched per read), and prints one
JSON object on stdout: replies, seconds, replies per second, how many replies
were checked and what was wrong with any.

All frames are built before the clock starts. A warm-up of ``--warmup``
frames runs first, untimed. Replies are expected in order (every responder
answers frames in the order they came). Every ``--check-every``-th reply, and
the last, is checked in full against its request (``bench.packets.check_reply``);
``--check-every 1`` checks them all. The CPU time the responder used during
the timed part is read from ``/proc/PID/stat`` when ``--responder-pid`` is given,
so the result says whether the responder, or this process, was the one at 100%;
and the busy time of the whole machine from ``/proc/stat``, so it also says how
much CPU anything else took meanwhile (``other_cpu``, in CPUs) and how much the
hypervisor stole (``steal_cpu``).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import struct
import sys
import time

from bench.packets import REQUEST_BUILDERS, check_reply

RECV_SIZE = 1 << 18
_LENGTH = struct.Struct(">I")


def _stream(frames: list[bytes]) -> tuple[bytes, list[int]]:
    """The frames framed as one buffer, and where each starts (plus the end)."""
    offsets = [0]
    parts = []
    for frame in frames:
        parts.append(_LENGTH.pack(len(frame)) + frame)
        offsets.append(offsets[-1] + 4 + len(frame))
    return b"".join(parts), offsets


def _cpu_seconds(pid: int | None) -> float | None:
    """User plus system CPU seconds ``pid`` has used, from /proc."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _system_cpu() -> tuple[float, float] | None:
    """CPU seconds every CPU has spent busy (user, system, interrupts), and stolen by the hypervisor."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(value) for value in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    tick = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / tick, steal / tick


class Exchange:
    """One pass of frames through the responder with a bounded window."""

    def __init__(self, sock: socket.socket, responder: str, kind: str, frames: list[bytes], window: int,
                 check_every: int) -> None:
        self.sock = sock
        self.responder = responder
        self.kind = kind
        self.frames = frames
        self.window = max(1, window)
        self.check_every = max(1, check_every)
        self.stream, self.offsets = _stream(frames)
        self.checked = 0
        self.problems: list[str] = []
        self.bad = 0

    def _check(self, index: int, reply: bytes) -> None:
        self.checked += 1
        problem = check_reply(self.kind, self.responder, self.frames[index], reply)
        if problem is not None:
            self.bad += 1
            if len(self.problems) < 5:
                self.problems.append(f"reply {index}: {problem}")

    def run(self) -> int:
        """Send every frame, keeping the window full; return the replies received."""
        sock, offsets, view = self.sock, self.offsets, memoryview(self.stream)
        total, window, every = len(self.frames), self.window, self.check_every
        last = total - 1
        unpack_from = _LENGTH.unpack_from
        sent = min(window, total)
        sock.sendall(view[:offsets[sent]])
        received = 0
        pending = b""
        while received < total:
            data = sock.recv(RECV_SIZE)
            if not data:
                raise ConnectionError(f"the responder closed the connection after {received} of {total} replies")
            if pending:
                data = pending + data
            position, end = 0, len(data)
            while end - position >= 4:
                start = position + 4
                stop = start + unpack_from(data, position)[0]
                if stop > end:
                    break
                if received % every == 0 or received == last:
                    self._check(received, data[start:stop])
                received += 1
                position = stop
            pending = data[position:] if position < end else b""
            more = min(window - (sent - received), total - sent)
            if more > 0:
                sock.sendall(view[offsets[sent]:offsets[sent + more]])
                sent += more
        return received


def generate(path: str, responder: str, kind: str, frames: int, window: int, warmup: int, check_every: int,
             responder_pid: int | None, timeout: float) -> dict[str, object]:
    """Run the warm-up, then the timed pass; the result as a JSON-ready dict."""
    build = REQUEST_BUILDERS[kind]
    warm = [build(i) for i in range(warmup)]
    timed = [build(warmup + i) for i in range(frames)]
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        if warm:
            warm_exchange = Exchange(sock, responder, kind, warm, window, check_every)
            warm_exchange.run()
        exchange = Exchange(sock, responder, kind, timed, window, check_every)
        system0 = _system_cpu()
        responder_cpu0 = _cpu_seconds(responder_pid)
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        replies = exchange.run()
        elapsed = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        responder_cpu1 = _cpu_seconds(responder_pid)
        system1 = _system_cpu()
    responder_used = (None if responder_cpu0 is None or responder_cpu1 is None
                      else responder_cpu1 - responder_cpu0)
    other_cpu = steal = None
    if system0 is not None and system1 is not None and elapsed > 0:
        # Busy time on the whole machine that was neither the responder nor this process.
        other_cpu = max(0.0, (system1[0] - system0[0] - cpu - (responder_used or 0.0)) / elapsed)
        steal = (system1[1] - system0[1]) / elapsed
    bad = exchange.bad + (warm_exchange.bad if warm else 0)
    problems = (warm_exchange.problems if warm else []) + exchange.problems
    return {
        "frames": frames,
        "window": window,
        "warmup": warmup,
        "replies": replies,
        "seconds": elapsed,
        "replies_per_second": replies / elapsed if elapsed > 0 else 0.0,
        "checked": exchange.checked + (warm_exchange.checked if warm else 0),
        "bad": bad,
        "problems": problems,
        "loadgen_cpu": cpu / elapsed if elapsed > 0 else None,
        "responder_cpu": None if responder_used is None or elapsed <= 0 else responder_used / elapsed,
        "other_cpu": other_cpu,
        "steal_cpu": steal,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen", description=__doc__.splitlines()[0])
    parser.add_argument("--path", required=True)
    parser.add_argument("--responder", required=True)
    parser.add_argument("--kind", required=True, choices=sorted(REQUEST_BUILDERS))
    parser.add_argument("--frames", type=int, required=True)
    parser.add_argument("--window", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=0)
    parser.add_argument("--check-every", type=int, default=64)
    parser.add_argument("--responder-pid", type=int, default=None)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for any one read")
    parser.add_argument("--cpu", type=int, default=None, help="pin this process to one CPU")
    args = parser.parse_args(argv)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    try:
        result = generate(args.path, args.responder, args.kind, args.frames, args.window, args.warmup,
                          args.check_every, args.responder_pid, args.timeout)
    except (OSError, ConnectionError) as error:
        json.dump({"error": f"{type(error).__name__}: {error}"}, sys.stdout)
        sys.exit(1)
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
