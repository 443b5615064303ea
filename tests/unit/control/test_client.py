"""The blocking control client and ``nicemu ctl``, against a control socket served in the test's event loop."""

import asyncio
import json
import socket
import threading

import pytest

from nicemu.cli import main
from nicemu.control.client import CommandFailed, ControlClient, ControlError, Greeting, parse_arguments, request
from nicemu.host import Host
from nicemu.qemu.server import NicemuServer

COMMANDS = ("oid-query", "oid-set", "query-adapters", "query-bindings", "query-commands", "query-filters",
            "query-stats", "query-switch", "query-version")


@pytest.fixture
async def control(tmp_path):
    """The path of a control socket; the blocking client runs in a thread so this loop can answer it."""
    server = NicemuServer(Host(verifier=True))
    server.host.add_adapter(0.0)
    path = str(tmp_path / "control.sock")
    await server.control(path)
    yield path
    await server.close()


def mute_server(path, greeting=None):
    """A unix socket that accepts and says only ``greeting`` (or nothing), then lingers; returns a stopper."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen()
    done = threading.Event()

    def serve():
        conn, _ = listener.accept()
        if greeting is not None:
            conn.sendall(greeting)
        done.wait(5)
        conn.close()

    thread = threading.Thread(target=serve)
    thread.start()

    def stop():
        done.set()
        thread.join()
        listener.close()

    return stop


# --- the client -------------------------------------------------------------------


async def test_client__reads_the_greeting_on_connect(control):
    def greet():
        with ControlClient(control) as client:
            return client.greeting

    assert await asyncio.to_thread(greet) == Greeting("0.1.0", COMMANDS)


async def test_client__runs_several_commands_on_one_connection(control):
    def two():
        with ControlClient(control) as client:
            return client.execute("query-version"), client.execute("oid-query", {
                "adapter": "nicemu0", "oid": "OID_802_3_CURRENT_ADDRESS"})

    assert await asyncio.to_thread(two) == ({"nicemu": "0.1.0"}, {
        "status": "SUCCESS", "data": "52550a000202", "bytes_written": 6, "bytes_needed": 0,
        "value": "52:55:0a:00:02:02"})


async def test_client__request_returns_what_the_command_returned(control):
    assert await asyncio.to_thread(request, control, "query-version") == {"nicemu": "0.1.0"}


async def test_client__an_error_response_raises_command_failed_with_its_class_and_desc(control):
    with pytest.raises(CommandFailed, match="^no adapter 'eth0'; there are: nicemu0") as caught:
        await asyncio.to_thread(request, control, "oid-query", {"adapter": "eth0", "oid": 1})
    assert caught.value.error_class == "GenericError"


async def test_client__an_unknown_command_raises_command_failed_as_command_not_found(control):
    with pytest.raises(CommandFailed) as caught:
        await asyncio.to_thread(request, control, "nope")
    assert caught.value.error_class == "CommandNotFound"


def test_client__a_missing_socket_is_a_control_error_naming_it(tmp_path):
    path = tmp_path / "missing.sock"
    with pytest.raises(ControlError, match=f"^cannot connect to the control socket {path}: No such file or directory$"):
        request(str(path), "query-version")


def test_client__a_socket_nobody_listens_on_is_a_control_error(tmp_path):
    path = tmp_path / "stale.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as stale:
        stale.bind(str(path))
    with pytest.raises(ControlError, match=f"^cannot connect to the control socket {path}: Connection refused$"):
        request(str(path), "query-version")


def test_client__a_server_that_never_greets_times_out(tmp_path):
    path = str(tmp_path / "mute.sock")
    stop = mute_server(path)
    try:
        with pytest.raises(ControlError, match=f"^{path} did not answer within 0.2 s$"):
            ControlClient(path, timeout=0.2)
    finally:
        stop()


def test_client__a_socket_that_is_not_nicemus_is_a_control_error(tmp_path):
    path = str(tmp_path / "other.sock")
    stop = mute_server(path, b'{"QMP": {"version": {}}}\n')
    try:
        with pytest.raises(ControlError, match=r"is not a nicemu control socket: it greeted with \{'QMP'"):
            ControlClient(path, timeout=2)
    finally:
        stop()


# --- command-line arguments ----------------------------------------------------------


def test_parse_arguments__values_that_parse_as_json_are_json_and_the_rest_strings():
    assert parse_arguments(["adapter=nicemu0", "oid=OID_GEN_LINK_SPEED", "length=64", "macs=[\"01:00:5e:00:00:01\"]",
                            "flag=true", "nothing=null", "quoted=\"3\"", "empty=", "eq=a=b"]) == {
        "adapter": "nicemu0", "oid": "OID_GEN_LINK_SPEED", "length": 64, "macs": ["01:00:5e:00:00:01"],
        "flag": True, "nothing": None, "quoted": "3", "empty": "", "eq": "a=b"}


def test_parse_arguments__json_gives_the_whole_object():
    assert parse_arguments([], '{"adapter": "nicemu0", "length": 8}') == {"adapter": "nicemu0", "length": 8}


@pytest.mark.parametrize("pairs, json_text, message", [
    (["adapter"], None, "'adapter' is not KEY=VALUE"),
    (["=x"], None, "'=x' is not KEY=VALUE"),
    (["a=1"], "{}", "give the arguments either as KEY=VALUE or with --json, not both"),
    ([], "{adapter: 1}", "--json: '{adapter: 1}' is not JSON: Expecting property name enclosed in double quotes"),
    ([], "[1]", "--json: '[1]' is not a JSON object like '{\"adapter\": \"nicemu0\"}'"),
])
def test_parse_arguments__bad_input_is_a_value_error_saying_what_is_wrong(pairs, json_text, message):
    with pytest.raises(ValueError) as caught:
        parse_arguments(pairs, json_text)
    assert str(caught.value).startswith(message)


# --- nicemu ctl ---------------------------------------------------------------------


async def test_ctl__prints_the_return_value_as_json_and_exits_0(control, capsys):
    argv = ["ctl", control, "oid-query", "adapter=nicemu0", "oid=OID_GEN_LINK_SPEED"]
    assert await asyncio.to_thread(main, argv) == 0
    out = capsys.readouterr().out
    assert json.loads(out) == {"status": "SUCCESS", "data": "00e1f505", "bytes_written": 4, "bytes_needed": 0,
                               "value": 100_000_000}
    assert out.startswith('{\n  "status": "SUCCESS",\n')


async def test_ctl__takes_the_arguments_as_json_too(control, capsys):
    arguments = {"adapter": "nicemu0", "oid": "OID_GEN_CURRENT_PACKET_FILTER", "value": 9}
    argv = ["ctl", control, "oid-set", "--json", json.dumps(arguments)]
    assert await asyncio.to_thread(main, argv) == 0
    assert json.loads(capsys.readouterr().out) == {"status": "SUCCESS", "bytes_read": 4, "bytes_needed": 0}


async def test_ctl__an_error_response_prints_its_desc_and_exits_1(control, capsys):
    assert await asyncio.to_thread(main, ["ctl", control, "query-stats", "adapter=nicemu9"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("nicemu ctl: no adapter 'nicemu9'; there are: nicemu0")


def test_ctl__a_missing_socket_prints_a_clear_message_and_exits_1(tmp_path, capsys):
    path = tmp_path / "none.sock"
    assert main(["ctl", str(path), "query-version"]) == 1
    assert capsys.readouterr().err == (
        f"nicemu ctl: cannot connect to the control socket {path}: No such file or directory\n")


def test_ctl__an_argument_that_is_not_key_value_exits_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as caught:
        main(["ctl", str(tmp_path / "c.sock"), "query-stats", "nicemu0"])
    assert caught.value.code == 2
    assert "'nicemu0' is not KEY=VALUE" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["tcp:127.0.0.1:4444", "unix:", "/tmp/c.sock"])
def test_serve__control_other_than_unix_path_exits_2_naming_control(capsys, value):
    with pytest.raises(SystemExit) as caught:
        main(["serve", "--listen", "unix:/tmp/x", "--control", value])
    assert caught.value.code == 2
    assert (f"argument --control: {value!r} is not unix:PATH (the control socket is a unix socket only)"
            in capsys.readouterr().err)


def test_serve__control_on_a_regular_file_fails_cleanly_and_keeps_the_file(capsys, tmp_path):
    precious = tmp_path / "precious.txt"
    precious.write_text("keep")
    assert main(["serve", "--listen", f"unix:{tmp_path / 'n.sock'}", "--control", f"unix:{precious}"]) == 1
    assert capsys.readouterr().err.endswith(f"nicemu serve: {precious} exists and is not a socket; not replacing it\n")
    assert precious.read_text() == "keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["precious.txt"]
