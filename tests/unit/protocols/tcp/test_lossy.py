"""Bulk transfers across a network that loses, reorders and duplicates segments (seeded)."""

import random

import pytest

from nicemu.protocols.tcp import TcpConfig
from nicemu.protocols.tcp.states import TcpState

from .harness import established_pair

S = TcpState
MEGABYTE = 1 << 20


def transfer(client_data: bytes, server_data: bytes, seed: int, config: TcpConfig | None = None,
             loss: float = 0.05, reorder: float = 0.05, duplicate: float = 0.01):
    """Push both payloads across at once, then close both ends; returns what each end read and the pair."""
    client, server, wire = established_pair(client_config=config, server_config=config, loss=loss,
                                            reorder=reorder, duplicate=duplicate, seed=seed)
    sent = [0, 0]
    closed = [False, False]
    got = [bytearray(), bytearray()]

    def tick():
        for index, (connection, data) in enumerate(((client, client_data), (server, server_data))):
            if sent[index] < len(data):
                sent[index] += connection.send(data[sent[index]:sent[index] + 65536], wire.now)
            if sent[index] == len(data) and not closed[index]:
                closed[index] = True
                connection.close(wire.now)
        got[0].extend(server.read())
        got[1].extend(client.read())
    tick()
    wire.run(lambda: client.state is S.TIME_WAIT or server.state is S.TIME_WAIT, tick=tick, for_seconds=600)
    wire.run(lambda: client.state is S.CLOSED and server.state is S.CLOSED, tick=tick, for_seconds=600)
    return bytes(got[0]), bytes(got[1]), client, server


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_tcp__a_megabyte_arrives_intact_across_loss_reordering_and_duplication(seed):
    data = random.Random(seed).randbytes(MEGABYTE)
    received, _, client, server = transfer(data, b"", seed)
    assert received == data
    assert client.state is S.CLOSED and server.state is S.CLOSED
    assert client.stats["tx.retransmits"] > 0 and server.stats["rx.out_of_order"] > 0


def test_tcp__a_megabyte_each_way_at_once_arrives_intact():
    rng = random.Random(7)
    up, down = rng.randbytes(MEGABYTE), rng.randbytes(MEGABYTE)
    received_up, received_down, _, _ = transfer(up, down, seed=7)
    assert received_up == up and received_down == down


@pytest.mark.parametrize("config", [
    TcpConfig(sack=False),
    TcpConfig(timestamps=False),
    TcpConfig(window_scaling=False, sack=False, timestamps=False),
    TcpConfig(receive_buffer=16 * 1024, send_buffer=8 * 1024),
], ids=["no-sack", "no-timestamps", "no-options", "small-buffers"])
def test_tcp__a_lossy_transfer_survives_every_option_set(config):
    data = random.Random(11).randbytes(256 * 1024)
    received, _, _, _ = transfer(data, b"", seed=11, config=config)
    assert received == data


def test_tcp__heavy_loss_only_slows_the_transfer_down():
    data = random.Random(5).randbytes(128 * 1024)
    received, _, client, _ = transfer(data, b"", seed=5, loss=0.25, reorder=0.2, duplicate=0.05)
    assert received == data
    assert client.stats["tx.timeouts"] > 0
