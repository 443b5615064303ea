"""The asyncio edge on real loopback sockets, with this test playing QEMU."""

import asyncio
import socket
import struct

import pytest
from scapy.layers.inet import ICMP, IP
from scapy.layers.l2 import ARP, Ether

from nicemu.host import Host
from nicemu.qemu.endpoints import DgramEndpoint, TcpAddress, UdpAddress, UnixAddress
from nicemu.qemu.framing import StreamDeframer, frame_stream
from nicemu.qemu.server import NicemuServer

GUEST_MAC = "52:54:00:12:34:56"
ARP_REQUEST = bytes(Ether(dst="ff:ff:ff:ff:ff:ff", src=GUEST_MAC) / ARP(
    op=1, hwsrc=GUEST_MAC, psrc="10.0.2.15", pdst="10.0.2.2"))


def ping(seq):
    return bytes(Ether(dst="52:55:0a:00:02:02", src=GUEST_MAC) / IP(src="10.0.2.15", dst="10.0.2.2")
                 / ICMP(type=8, id=1, seq=seq) / (b"x" * 56))


@pytest.fixture
async def server():
    nicemu = NicemuServer(Host(verifier=True))
    yield nicemu
    await nicemu.close()


async def read_frames(reader, count, timeout=5.0):
    deframer = StreamDeframer()
    frames = []
    async with asyncio.timeout(timeout):
        while len(frames) < count:
            data = await reader.read(65536)
            assert data, f"connection closed after {len(frames)} of {count} frames"
            frames += deframer.feed(data)
    return frames


def tcp_port(where):
    return int(where.rsplit(":", 1)[1])


async def test_listen_tcp__answers_arp_over_qemus_stream_framing(server):
    port = tcp_port(await server.listen(TcpAddress("127.0.0.1", 0)))
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(frame_stream([ARP_REQUEST]))
    (reply,) = await read_frames(reader, 1)
    assert Ether(reply)[ARP].op == 2
    (link,) = server.connections
    assert link.transport.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    writer.close()
    report = server.report()
    assert report["transport"]["frames_in"] == 1 and report["transport"]["frames_out"] == 1


async def test_listen_unix__byte_by_byte_writes_are_reassembled(server, tmp_path):
    path = str(tmp_path / "n.sock")
    await server.listen(UnixAddress(path))
    reader, writer = await asyncio.open_unix_connection(path)
    for byte in frame_stream([ping(1), ping(2)]):
        writer.write(bytes([byte]))
        await writer.drain()
    replies = await read_frames(reader, 2)
    assert [Ether(r)[ICMP].seq for r in replies] == [1, 2]
    writer.close()


async def test_listen__bad_length_closes_that_connection_only_and_the_listener_serves_the_next(server):
    port = tcp_port(await server.listen(TcpAddress("127.0.0.1", 0)))
    good_reader, good_writer = await asyncio.open_connection("127.0.0.1", port)
    bad_reader, bad_writer = await asyncio.open_connection("127.0.0.1", port)
    bad_writer.write(struct.pack(">I", 70_000) + bytes(100))
    async with asyncio.timeout(5):
        assert await bad_reader.read() == b""
    good_writer.write(frame_stream([ping(7)]))
    (reply,) = await read_frames(good_reader, 1)
    assert Ether(reply)[ICMP].seq == 7
    next_reader, next_writer = await asyncio.open_connection("127.0.0.1", port)
    next_writer.write(frame_stream([ping(8)]))
    assert Ether((await read_frames(next_reader, 1))[0])[ICMP].seq == 8
    assert server.report()["transport"]["errors.oversize_frame"] == 1
    for writer in (good_writer, next_writer):
        writer.close()


async def test_listen__a_guest_that_leaves_unplugs_its_adapter_for_the_next_one(server):
    port = tcp_port(await server.listen(TcpAddress("127.0.0.1", 0)))
    for seq in range(3):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(frame_stream([ping(seq)]))
        assert Ether((await read_frames(reader, 1))[0])[ICMP].seq == seq
        writer.close()
        await writer.wait_closed()
        async with asyncio.timeout(5):
            while server.host.adapters[0].connected:
                await asyncio.sleep(0.01)
    (adapter,) = server.host.adapters
    stats = server.host.query_stats(adapter.config.name)[adapter.config.name]
    assert (stats["media_connects"], stats["media_disconnects"]) == (3, 3)
    assert stats["rcv_directed_frames"] == 3
    assert server.report()["transport"]["connections_accepted"] == 3


async def test_listen__guests_connected_at_once_get_an_adapter_each(server):
    port = tcp_port(await server.listen(TcpAddress("127.0.0.1", 0)))
    connections = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
    for seq, (reader, writer) in enumerate(connections):
        writer.write(frame_stream([ping(seq)]))
        assert Ether((await read_frames(reader, 1))[0])[ICMP].seq == seq
    assert len(server.host.adapters) == 3
    for _, writer in connections:
        writer.close()
    await server.close()
    assert server.host.adapters == [] and server.host.ndis.counters.miniports_halted == 3


async def test_connect__reconnects_with_backoff_and_the_link_follows_the_connection(server, tmp_path):
    path = str(tmp_path / "qemu.sock")
    connections = asyncio.Queue()

    async def qemu(reader, writer):
        await connections.put((reader, writer))

    fake_qemu = await asyncio.start_unix_server(qemu, path)
    server.connect(UnixAddress(path))
    for round_number in range(2):
        async with asyncio.timeout(5):
            reader, writer = await connections.get()
        writer.write(frame_stream([ping(round_number)]))
        assert Ether((await read_frames(reader, 1))[0])[ICMP].seq == round_number
        writer.close()
    async with asyncio.timeout(5):
        while server.host.vswitch.counters["link.down"] < 1:
            await asyncio.sleep(0.01)
    assert server.host.vswitch.counters["link.up"] == 2
    assert len(server.host.adapters) == 1
    fake_qemu.close()


async def test_connect__waits_for_qemu_that_is_not_there_yet(server, tmp_path):
    path = str(tmp_path / "late.sock")
    server.connect(UnixAddress(path))
    await asyncio.sleep(0.35)
    assert server.counters.connect_attempts >= 2
    arrived = asyncio.Event()

    async def qemu(reader, writer):
        arrived.set()

    late = await asyncio.start_unix_server(qemu, path)
    async with asyncio.timeout(5):
        await arrived.wait()
    late.close()


async def test_dgram_udp__one_datagram_is_one_frame_both_ways(server):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as qemu:
        qemu.bind(("127.0.0.1", 0))
        qemu.settimeout(5)
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.bind(("127.0.0.1", 0))
        ours = probe.getsockname()[1]
        probe.close()
        await server.dgram(DgramEndpoint(UdpAddress("127.0.0.1", ours), UdpAddress(*qemu.getsockname())))
        qemu.sendto(ping(3), ("127.0.0.1", ours))
        qemu.sendto(b"short", ("127.0.0.1", ours))
        reply = await asyncio.to_thread(qemu.recv, 65536)
    assert Ether(reply)[ICMP].seq == 3
    assert server.report()["transport"]["errors.runt_frame"] == 1


async def test_dgram_unix__answers_on_the_remote_path(server, tmp_path):
    ours, theirs = str(tmp_path / "nicemu.dg"), str(tmp_path / "qemu.dg")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as qemu:
        qemu.bind(theirs)
        qemu.settimeout(5)
        await server.dgram(DgramEndpoint(UnixAddress(ours), UnixAddress(theirs)))
        qemu.sendto(ARP_REQUEST, ours)
        reply = await asyncio.to_thread(qemu.recv, 65536)
    assert Ether(reply)[ARP].op == 2


async def test_backpressure__stops_reading_while_qemu_does_not_drain_and_loses_nothing(server):
    port = tcp_port(await server.listen(TcpAddress("127.0.0.1", 0)))
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    async with asyncio.timeout(5):
        while not server.connections:
            await asyncio.sleep(0.01)
    (link,) = server.connections
    # A small kernel send buffer on nicemu's side makes its own write buffer
    # fill up while this "QEMU" sends without reading.
    link.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    count = 30_000
    writer.write(frame_stream([ping(1)]) * count)
    async with asyncio.timeout(20):
        while server.counters.read_pauses == 0:
            await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    assert server.counters.frames_in < count
    assert link.transport.get_write_buffer_size() < 1024 * 1024
    replies = await read_frames(reader, count, timeout=60)
    # Every reply is the same echo reply but for its IP identification and checksum.
    assert len(replies) == count and all(reply[34:] == replies[0][34:] for reply in replies)
    writer.close()


async def test_timers__the_server_wakes_the_stack_when_a_deadline_passes_with_no_frame_arriving():
    from nicemu.host import HostConfig
    from nicemu.protocols.tcpip import TcpipConfig

    server = NicemuServer(Host(HostConfig(tcpip=TcpipConfig(reassembly_timeout=0.2)), verifier=True))
    try:
        port = tcp_port(await server.listen(TcpAddress("127.0.0.1", 0)))
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        first_fragment = IP(src="10.0.2.15", dst="10.0.2.2", id=6, flags="MF", proto=17) / bytes(16)
        writer.write(frame_stream([bytes(Ether(dst="52:55:0a:00:02:02", src=GUEST_MAC) / first_fragment)]))
        # Nothing more is sent: only nicemu's own timer can produce the ARP request for the ICMP error.
        (request,) = await read_frames(reader, 1, timeout=5)
        assert Ether(request)[ARP].pdst == "10.0.2.15"
        writer.close()
    finally:
        await server.close()
