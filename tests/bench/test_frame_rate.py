"""The frame-rate benchmark runs once at a tiny size, so it cannot rot. No timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.packets import KINDS, REQUEST_BUILDERS, check_reply
from bench.responders import RESPONDERS, scapy_answerer

ROOT = Path(__file__).resolve().parents[2]


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie counts as gone: it has exited)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("kind", KINDS)
def test_each_responder_answers_every_frame_correctly(kind: str, tmp_path: Path) -> None:
    report_path = tmp_path / "frame_rate.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.frame_rate", "--kind", kind, "--frames", "200", "--runs", "1",
         "--check-every", "1", "--json", str(report_path)],
        check=False, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    report = json.loads(report_path.read_text())

    assert report["benchmark"] == "frame_rate"
    assert {"platform", "cpu_model", "nproc"} <= report["machine"].keys()
    assert {"python", "nicemu", "construct", "scapy"} <= report["versions"].keys()
    assert all(report["versions"][name] for name in ("python", "nicemu", "construct", "scapy"))
    assert report["parameters"]["kinds"] == [kind]
    assert report["parameters"]["runs"] == 1
    assert report["ok"] is True

    results = {result["responder"]: result for result in report["results"]}
    assert set(results) == set(RESPONDERS)
    for responder, result in results.items():
        assert result["kind"] == kind
        assert result["errors"] == []
        assert result["runs_ok"] == 1
        [run] = result["runs"]
        # Every reply came back, and --check-every 1 checked every one of them, warm-up included.
        assert run["replies"] == run["frames"] == result["frames"]
        assert run["checked"] == run["frames"] + run["warmup"]
        assert run["bad"] == 0 and run["problems"] == []
        assert result["median_replies_per_second"] > 0
        # The harness ended both processes it started.
        assert len(run["pids"]) == 2
        assert not any(_alive(pid) for pid in run["pids"]), f"{responder} left a process behind"
    assert set(report["ratios"][kind]) == {"nicemu_over_ceiling", "nicemu_over_scapy"}
    assert all(value > 0 for value in report["ratios"][kind].values())
    assert "replies/s" in done.stdout


@pytest.mark.parametrize("kind", KINDS)
def test_the_checks_reject_a_wrong_reply(kind: str) -> None:
    """The load generator's checks are not vacuous: the scapy reply passes, a damaged one does not."""
    request = REQUEST_BUILDERS[kind](7)
    reply = scapy_answerer()(request)
    assert reply is not None
    assert check_reply(kind, "scapy", request, reply) is None
    damaged = bytearray(reply)
    if kind == "arp":
        damaged[21] = 1  # the ARP operation: a request, not a reply
    else:
        damaged[-1] ^= 0xFF  # the echoed data, or the quoted datagram
    assert check_reply(kind, "scapy", request, bytes(damaged)) is not None
    if kind != "arp":  # every ARP request is the same; the others carry their sequence number
        assert check_reply(kind, "scapy", REQUEST_BUILDERS[kind](8), reply) is not None
    assert check_reply(kind, "ceiling", request, request) is None
    assert check_reply(kind, "ceiling", request, reply) is not None


def test_the_benchmark_refuses_a_window_of_zero() -> None:
    done = subprocess.run([sys.executable, "-m", "bench.frame_rate", "--window", "0"], check=False,
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--window must be at least 1" in done.stderr


def test_the_profiler_runs_and_accounts_for_the_replies(tmp_path: Path) -> None:
    """``bench.profile_stack`` (cProfile, the sampler that needs nothing installed) once, tiny."""
    summary_path = tmp_path / "profile.json"
    done = subprocess.run([sys.executable, "-m", "bench.profile_stack", "--frames", "200", "--top", "5",
                           "--json", str(summary_path)],
                          check=False, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    summary = json.loads(summary_path.read_text())
    assert summary["sampler"] == "cprofile" and summary["kind"] == "icmp"
    assert summary["replies"] == 200 + 20  # the warm-up is a tenth
    assert summary["total_us_per_reply"] > 0
    assert len(summary["top_cumulative"]) == 5
    assert any("nicemu/" in row["function"] for row in summary["top_cumulative"])


def test_samples_are_split_by_phase_from_the_innermost_frame() -> None:
    from bench.profile_stack import PHASES, phase_of

    loop = [("BaseEventLoop._run_once", "asyncio/base_events.py")]
    up = loop + [("StreamLink.data_received", "nicemu/qemu/stream.py"),
                 ("Ndis._indicate_up", "nicemu/ndis/ndis.py"),
                 ("TcpipProtocol._receive_ipv4", "nicemu/protocols/tcpip.py")]
    assert phase_of(up + [("decode_ipv4", "nicemu/wire/ipv4.py"), ("parse", "nicemu/wire/_codec.py")]) == PHASES[0]
    assert phase_of(up + [("fragment", "nicemu/protocols/ipv4/fragmentation.py"),
                          ("encode_ipv4", "nicemu/wire/ipv4.py")]) == PHASES[1]
    assert phase_of(up + [("IntFlag.__and__", "enum.py")]) == PHASES[2]
    assert phase_of(up[:3] + [("__init__", "<string>")]) == PHASES[4]
    assert phase_of(loop + [("_SelectorSocketTransport.write", "asyncio/selector_events.py")]) == PHASES[8]
