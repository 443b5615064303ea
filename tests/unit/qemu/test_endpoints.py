import pytest

from nicemu.qemu.endpoints import (
    DgramEndpoint,
    EndpointError,
    TcpAddress,
    UdpAddress,
    UnixAddress,
    parse_dgram,
    parse_stream,
    remove_stale_unix_socket,
)


def test_parse_stream__tcp_host_and_port():
    assert parse_stream("tcp:127.0.0.1:5555", "--listen") == TcpAddress("127.0.0.1", 5555)


def test_parse_stream__tcp_ipv6_in_brackets():
    assert parse_stream("tcp:[::1]:5555", "--listen") == TcpAddress("::1", 5555)


def test_parse_stream__unix_path_may_contain_colons():
    assert parse_stream("unix:/tmp/a:b.sock", "--listen") == UnixAddress("/tmp/a:b.sock")


@pytest.mark.parametrize("text, words", [
    ("tcp:127.0.0.1", "HOST:PORT"),
    ("tcp:127.0.0.1:http", "not a number"),
    ("tcp:127.0.0.1:70000", "outside 0..65535"),
    ("udp:127.0.0.1:5555", "neither"),
    ("unix:", "neither"),
])
def test_parse_stream__names_the_option_and_the_problem(text, words):
    with pytest.raises(EndpointError) as caught:
        parse_stream(text, "--listen")
    assert str(caught.value).startswith("--listen: ")
    assert words in str(caught.value)


def test_parse_dgram__udp_unicast_local_and_remote():
    assert parse_dgram("udp:127.0.0.1:1234@127.0.0.1:1235") == DgramEndpoint(
        UdpAddress("127.0.0.1", 1234), UdpAddress("127.0.0.1", 1235))


def test_parse_dgram__multicast_group_is_both_ends():
    endpoint = parse_dgram("udp:230.0.0.1:1234")
    assert endpoint.local == endpoint.remote == UdpAddress("230.0.0.1", 1234)
    assert endpoint.local.is_multicast


def test_parse_dgram__unicast_without_remote_is_an_error():
    with pytest.raises(EndpointError, match="needs @RHOST:RPORT"):
        parse_dgram("udp:127.0.0.1:1234")


def test_parse_dgram__unix_local_and_remote():
    assert parse_dgram("unix:/tmp/a@/tmp/b") == DgramEndpoint(UnixAddress("/tmp/a"), UnixAddress("/tmp/b"))


def test_parse_dgram__unix_without_remote_is_an_error():
    with pytest.raises(EndpointError, match="unix:LOCAL@REMOTE"):
        parse_dgram("unix:/tmp/a")


def test_remove_stale_unix_socket__refuses_to_remove_a_regular_file(tmp_path):
    path = tmp_path / "precious"
    path.write_text("keep me")
    with pytest.raises(EndpointError, match="not a socket"):
        remove_stale_unix_socket(str(path))
    assert path.read_text() == "keep me"


def test_remove_stale_unix_socket__removes_a_socket_file(tmp_path):
    import socket

    path = str(tmp_path / "old.sock")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(path)
    remove_stale_unix_socket(path)
    remove_stale_unix_socket(path)
