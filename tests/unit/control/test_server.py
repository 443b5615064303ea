"""The control socket on a real unix socket, with this test as the client."""

import asyncio
import json
import os
import socket
import stat

import pytest

from nicemu.control.server import MAX_REQUEST_BYTES, serve_control
from nicemu.host import Host
from nicemu.qemu.endpoints import EndpointError
from nicemu.qemu.server import NicemuServer

GREETING = {"nicemu": {"version": "0.1.0", "commands": [
    "oid-query", "oid-set", "query-adapters", "query-bindings", "query-commands", "query-filters",
    "query-stats", "query-switch", "query-version"]}}


@pytest.fixture
async def nicemu():
    server = NicemuServer(Host(verifier=True))
    server.host.add_adapter(0.0)
    yield server
    await server.close()


@pytest.fixture
async def control(nicemu, tmp_path):
    """The path of a control socket nicemu answers on."""
    path = str(tmp_path / "control.sock")
    await nicemu.control(path)
    return path


async def connect(path):
    """A connection to the control socket, its greeting read; answers may be longer than requests."""
    reader, writer = await asyncio.open_unix_connection(path, limit=4 * MAX_REQUEST_BYTES)
    assert await read_message(reader) == GREETING
    return reader, writer


async def read_message(reader):
    async with asyncio.timeout(5):
        line = await reader.readline()
    assert line.endswith(b"\n"), line
    return json.loads(line)


async def ask(reader, writer, request):
    writer.write(json.dumps(request).encode() + b"\n")
    return await read_message(reader)


async def test_control_socket__greets_every_client_with_the_version_and_commands(control):
    reader, writer = await asyncio.open_unix_connection(control)
    assert await read_message(reader) == GREETING
    writer.close()


async def test_control_socket__answers_each_request_on_one_connection_in_turn(control):
    reader, writer = await connect(control)
    assert await ask(reader, writer, {"execute": "query-version", "id": 1}) == {"return": {"nicemu": "0.1.0"}, "id": 1}
    assert await ask(reader, writer, {"execute": "oid-query", "id": 2, "arguments": {
        "adapter": "nicemu0", "oid": "OID_GEN_LINK_SPEED"}}) == {"return": {
            "status": "SUCCESS", "data": "00e1f505", "bytes_written": 4, "bytes_needed": 0, "value": 100_000_000},
            "id": 2}
    writer.close()


async def test_control_socket__answers_requests_sent_in_one_write_in_order(control):
    reader, writer = await connect(control)
    writer.write(b'{"execute": "query-version", "id": 1}\n\n{"execute": "nope", "id": 2}\n')
    assert await read_message(reader) == {"return": {"nicemu": "0.1.0"}, "id": 1}
    assert await read_message(reader) == {
        "error": {"class": "CommandNotFound", "desc": "there is no command 'nope'; query-commands lists them"}, "id": 2}
    writer.close()


async def test_control_socket__answers_a_bad_line_and_keeps_the_connection(control):
    reader, writer = await connect(control)
    writer.write(b"hello\n")
    assert await read_message(reader) == {"error": {
        "class": "GenericError", "desc": "the request is not JSON: Expecting value: line 1 column 1 (char 0)"}}
    assert await ask(reader, writer, {"execute": "query-version"}) == {"return": {"nicemu": "0.1.0"}}
    writer.close()


async def test_control_socket__serves_two_clients_at_once(control):
    first = await connect(control)
    second = await connect(control)
    assert await ask(*second, {"execute": "query-version", "id": "second"}) == {
        "return": {"nicemu": "0.1.0"}, "id": "second"}
    assert await ask(*first, {"execute": "query-version", "id": "first"}) == {
        "return": {"nicemu": "0.1.0"}, "id": "first"}
    first[1].close()
    second[1].close()


async def test_control_socket__an_over_long_line_gets_an_error_and_the_connection_closes(control):
    reader, writer = await connect(control)
    writer.write(b'{"execute": "query-version", "id": "' + b"x" * MAX_REQUEST_BYTES + b'"}\n')
    assert await read_message(reader) == {"error": {
        "class": "GenericError", "desc": "a request line is longer than 65536 bytes; closing the connection"}}
    async with asyncio.timeout(5):
        assert await reader.read() == b""
    writer.close()


async def test_control_socket__a_line_of_the_longest_length_is_answered(control):
    reader, writer = await connect(control)
    padding = MAX_REQUEST_BYTES - len(b'{"execute": "query-version", "id": ""}')
    assert await ask(reader, writer, {"execute": "query-version", "id": "x" * padding}) == {
        "return": {"nicemu": "0.1.0"}, "id": "x" * padding}
    writer.close()


async def test_control_socket__file_has_mode_0600_and_nothing_else_is_left_beside_it(control, tmp_path):
    assert stat.S_IMODE(os.lstat(control).st_mode) == 0o600
    assert stat.S_ISSOCK(os.lstat(control).st_mode)
    assert os.listdir(tmp_path) == ["control.sock"]


async def test_control_socket__takes_another_mode_when_asked(nicemu, tmp_path):
    path = str(tmp_path / "shared.sock")
    server = await serve_control(nicemu, path, mode=0o660)
    try:
        assert stat.S_IMODE(os.lstat(path).st_mode) == 0o660
    finally:
        server.close()
        await server.wait_closed()


async def test_control_socket__replaces_a_stale_socket_file(nicemu, tmp_path):
    path = tmp_path / "control.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as stale:
        stale.bind(str(path))
    await nicemu.control(str(path))
    _, writer = await connect(str(path))
    writer.close()


async def test_control_socket__refuses_to_replace_a_regular_file(nicemu, tmp_path):
    precious = tmp_path / "control.sock"
    precious.write_text("keep")
    with pytest.raises(EndpointError, match=f"^{precious} exists and is not a socket; not replacing it$"):
        await nicemu.control(str(precious))
    assert precious.read_text() == "keep"
    assert os.listdir(tmp_path) == ["control.sock"]


async def test_control_socket__in_a_missing_directory_is_a_clear_error(nicemu, tmp_path):
    path = tmp_path / "nope" / "control.sock"
    with pytest.raises(EndpointError, match=f"^cannot create the control socket {path}: No such file or directory$"):
        await nicemu.control(str(path))


async def test_control_socket__closing_nicemu_ends_the_clients_and_removes_the_socket(tmp_path):
    nicemu = NicemuServer(Host(verifier=True))
    path = str(tmp_path / "control.sock")
    await nicemu.control(path)
    reader, writer = await connect(path)
    async with asyncio.timeout(5):
        await nicemu.close()
        assert await reader.read() == b""
    writer.close()
    assert not os.path.exists(path)
    with pytest.raises((FileNotFoundError, ConnectionRefusedError)):
        await asyncio.open_unix_connection(path)


async def test_control_socket__a_client_leaving_mid_request_does_not_disturb_the_others(control):
    _, writer = await connect(control)
    writer.write(b'{"execute": "query-ver')
    writer.close()
    other = await connect(control)
    assert await ask(*other, {"execute": "query-version"}) == {"return": {"nicemu": "0.1.0"}}
    other[1].close()
