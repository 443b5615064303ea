"""The three responders the frame-rate benchmark measures, each run in a process of its own.

``python -m bench.responders RESPONDER --path SOCKET [--cpu N] [--kind KIND]``
listens on a unix stream socket, prints ``ready`` on stdout once it accepts,
and answers until SIGTERM or SIGINT.

- ``nicemu``: ``NicemuServer(Host())``, every layer, the NDIS verifier off
  (as ``nicemu serve`` runs by default).
- ``ceiling``: the wire ceiling. A minimal asyncio program that deframes with
  nicemu's own ``StreamDeframer`` and writes every frame straight back with
  ``frame_stream``, one write per read, as nicemu's transport does. No decoding.
- ``scapy``: a responder written the way a Python user writes one: parse each
  frame with ``Ether(frame)``, build the reply from scapy's layers, ``bytes()``
  it. Same transport as the ceiling. Like most such scripts it does not check
  the checksums of what it receives (nicemu does).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Callable

from nicemu.qemu.framing import StreamDeframer, frame_stream

RESPONDERS = ("nicemu", "ceiling", "scapy")


class FrameEcho(asyncio.Protocol):
    """The wire ceiling, and the transport of the scapy responder: deframe, answer each frame, one write."""

    def __init__(self, answer: Callable[[bytes], bytes | None] | None = None) -> None:
        self.answer = answer
        self.deframer = StreamDeframer()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        frames = self.deframer.feed(data)
        if self.answer is not None:
            frames = [reply for reply in map(self.answer, frames) if reply is not None]
        if frames:
            assert self.transport is not None
            self.transport.write(frame_stream(frames))


def scapy_answerer() -> Callable[[bytes], bytes | None]:
    """What a scapy user writes to answer ARP, ping and UDP to a closed port for 10.0.2.2."""
    from scapy.layers.inet import ICMP, IP, UDP
    from scapy.layers.l2 import ARP, Ether
    from scapy.packet import Raw

    my_mac = "52:55:0a:00:02:02"
    my_ip = "10.0.2.2"

    def answer(frame: bytes) -> bytes | None:
        packet = Ether(frame)
        if ARP in packet:
            arp = packet[ARP]
            if arp.op == 1 and arp.pdst == my_ip:
                return bytes(Ether(dst=arp.hwsrc, src=my_mac)
                             / ARP(op=2, hwsrc=my_mac, psrc=my_ip, hwdst=arp.hwsrc, pdst=arp.psrc))
            return None
        if IP not in packet or packet[IP].dst != my_ip:
            return None
        ip = packet[IP]
        if ICMP in packet and packet[ICMP].type == 8:
            icmp = packet[ICMP]
            return bytes(Ether(dst=packet.src, src=my_mac)
                         / IP(src=my_ip, dst=ip.src)
                         / ICMP(type=0, code=icmp.code, id=icmp.id, seq=icmp.seq)
                         / Raw(bytes(icmp.payload)))
        if UDP in packet:
            # No UDP service: port unreachable, quoting the datagram (up to 548 bytes, as Linux does).
            return bytes(Ether(dst=packet.src, src=my_mac)
                         / IP(src=my_ip, dst=ip.src)
                         / ICMP(type=3, code=3)
                         / Raw(bytes(ip)[:548]))
        return None

    return answer


async def serve(responder: str, path: str, kind: str, profile: str | None = None) -> None:
    """Listen on ``path`` as ``responder`` until SIGTERM/SIGINT; say ``ready`` on stdout once listening.

    With ``profile``, cProfile runs from ``ready`` to the stop signal (start-up
    and shutdown left out) and its stats are written there.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    if responder == "nicemu":
        from nicemu.host import Host
        from nicemu.protocols.ipv4.icmp_errors import TokenBucket
        from nicemu.qemu.endpoints import UnixAddress
        from nicemu.qemu.server import NicemuServer

        server = NicemuServer(Host())
        if kind == "udp":
            # nicemu rate-limits ICMP errors to 100/s (as Linux does), which would
            # stall a closed loop: lift the limit in this process so the
            # port-unreachable path itself is measured. Only this instance changes.
            server.host.tcpip.error_bucket = TokenBucket(rate=1e12, burst=1e12)
        await server.listen(UnixAddress(path))
        close = server.close
    else:
        answer = scapy_answerer() if responder == "scapy" else None
        listener = await loop.create_unix_server(lambda: FrameEcho(answer), path)

        async def close() -> None:
            listener.close()
            await listener.wait_closed()

    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    print("ready", flush=True)
    try:
        await stop.wait()
    finally:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profile)
        await close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.responders", description=__doc__.splitlines()[0])
    parser.add_argument("responder", choices=RESPONDERS)
    parser.add_argument("--path", required=True, help="the unix socket to listen on")
    parser.add_argument("--kind", default="icmp", help="what will be sent (only nicemu's udp path cares)")
    parser.add_argument("--cpu", type=int, default=None, help="pin this process to one CPU")
    parser.add_argument("--profile", default=None, metavar="PATH",
                        help="answer under cProfile and write its stats to PATH when stopped")
    args = parser.parse_args(argv)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    try:
        asyncio.run(serve(args.responder, args.path, args.kind, args.profile))
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
