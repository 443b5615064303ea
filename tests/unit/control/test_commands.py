"""The control commands, request object in and response object out, with no socket."""

import pytest
from scapy.layers.inet import ICMP, IP
from scapy.layers.l2 import Ether

from nicemu.control import commands
from nicemu.control.commands import execute, execute_line, greeting
from nicemu.host import Host
from nicemu.ndis.oid import PacketType
from nicemu.qemu.server import NicemuServer

GUEST_MAC = "52:54:00:12:34:56"
PING = bytes(Ether(dst="52:55:0a:00:02:02", src=GUEST_MAC) / IP(src="10.0.2.15", dst="10.0.2.2")
             / ICMP(type=8, id=1, seq=1) / (b"x" * 56))
ALL_COMMANDS = ["oid-query", "oid-set", "query-adapters", "query-bindings", "query-commands", "query-filters",
                "query-stats", "query-switch", "query-version"]


@pytest.fixture
def server():
    nicemu = NicemuServer(Host(verifier=True))
    nicemu.host.add_adapter(0.0)
    return nicemu


def run(server, command, **arguments):
    """The response to ``command`` with ``arguments``."""
    return execute(server, {"execute": command, "arguments": arguments})


def returned(server, command, **arguments):
    """What ``command`` returned; fails the test on an error response."""
    response = run(server, command, **arguments)
    assert list(response) == ["return"], response
    return response["return"]


def error(desc, error_class="GenericError"):
    return {"error": {"class": error_class, "desc": desc}}


def no_adapter(server, name):
    """What the host says about an adapter it does not have."""
    known = ", ".join(adapter["name"] for adapter in server.host.query_adapters())
    return f"no adapter {name!r}; there are: {known}"


# --- the queries ---------------------------------------------------------------


def test_control__query_version_gives_nicemus_version(server):
    assert run(server, "query-version") == {"return": {"nicemu": "0.1.0"}}


def test_control__query_commands_lists_every_command_sorted(server):
    assert run(server, "query-commands") == {"return": ALL_COMMANDS}


def test_control__greeting_carries_the_version_and_the_commands():
    assert greeting() == {"nicemu": {"version": "0.1.0", "commands": ALL_COMMANDS}}


def test_control__query_adapters_is_the_hosts_list_of_adapters(server):
    result = returned(server, "query-adapters")
    assert result == server.host.query_adapters()
    port = next(adapter for adapter in result if adapter["name"] == "nicemu0")
    assert (port["mac"], port["mtu"], port["media_connect_state"]) == ("52:55:0a:00:02:02", 1500, "connected")


def test_control__query_bindings_is_the_hosts_list_of_bindings(server):
    server.host.add_adapter(0.0)
    result = returned(server, "query-bindings")
    assert result == server.host.query_bindings()
    assert {"nicemu0", "nicemu1"} <= {binding["adapter"] for binding in result}


def test_control__query_stats_gives_each_adapters_statistics_and_the_layers(server):
    server.host.receive(server.host.adapter("nicemu0"), [PING], 1.0)
    server.host.add_adapter(2.0)
    result = returned(server, "query-stats")
    assert list(result) == ["adapters", "layers"]
    assert result["adapters"] == server.host.query_stats()
    stats = result["adapters"]["nicemu0"]
    assert (stats["rcv_ok"], stats["rcv_directed_frames"], stats["rcv_directed_bytes"]) == (1, 1, 98)
    assert (stats["xmit_ok"], stats["xmit_directed_frames"], stats["xmit_directed_bytes"]) == (1, 1, 98)
    assert result["adapters"]["nicemu1"]["rcv_ok"] == 0
    assert result["layers"] == server.report()
    assert next(iter(result["layers"])) == "transport"
    assert result["layers"]["tcpip"]["icmpv4.echo_replied"] == 1


def test_control__query_stats_of_one_adapter_gives_only_that_one(server):
    server.host.add_adapter(0.0)
    assert returned(server, "query-stats", adapter="nicemu1")["adapters"] == {
        "nicemu1": server.host.query_stats()["nicemu1"]}


def test_control__query_stats_with_a_null_adapter_gives_them_all(server):
    assert returned(server, "query-stats", adapter=None)["adapters"] == server.host.query_stats()


def test_control__query_stats_of_unknown_adapter_is_an_error(server):
    assert run(server, "query-stats", adapter="nicemu7") == error(no_adapter(server, "nicemu7"))


# --- oid-query -------------------------------------------------------------------


def test_control__oid_query_decodes_a_ulong(server):
    assert returned(server, "oid-query", adapter="nicemu0", oid="OID_GEN_LINK_SPEED") == {
        "status": "SUCCESS", "data": "00e1f505", "bytes_written": 4, "bytes_needed": 0, "value": 100_000_000}


def test_control__oid_query_decodes_a_64_bit_counter(server):
    server.host.receive(server.host.adapter("nicemu0"), [PING, PING], 1.0)
    assert returned(server, "oid-query", adapter="nicemu0", oid="OID_GEN_RCV_OK") == {
        "status": "SUCCESS", "data": "0200000000000000", "bytes_written": 8, "bytes_needed": 0, "value": 2}


@pytest.mark.parametrize("oid", ["OID_802_3_CURRENT_ADDRESS", "OID_802_3_PERMANENT_ADDRESS"])
def test_control__oid_query_decodes_a_mac_address(server, oid):
    assert returned(server, "oid-query", adapter="nicemu0", oid=oid) == {
        "status": "SUCCESS", "data": "52550a000202", "bytes_written": 6, "bytes_needed": 0,
        "value": "52:55:0a:00:02:02"}


def test_control__oid_query_decodes_the_packet_filter_into_flag_names(server):
    server.host.adapter("nicemu0").packet_filter = PacketType.DIRECTED | PacketType.MULTICAST | PacketType.BROADCAST
    assert returned(server, "oid-query", adapter="nicemu0", oid="OID_GEN_CURRENT_PACKET_FILTER") == {
        "status": "SUCCESS", "data": "0b000000", "bytes_written": 4, "bytes_needed": 0,
        "value": ["directed", "multicast", "broadcast"]}


def test_control__oid_query_decodes_the_multicast_list_into_macs(server):
    server.host.adapter("nicemu0").multicast_list = [bytes.fromhex("01005e000001"), bytes.fromhex("333300000001")]
    assert returned(server, "oid-query", adapter="nicemu0", oid="OID_802_3_MULTICAST_LIST") == {
        "status": "SUCCESS", "data": "01005e000001333300000001", "bytes_written": 12, "bytes_needed": 0,
        "value": ["01:00:5e:00:00:01", "33:33:00:00:00:01"]}


def test_control__oid_query_of_an_empty_multicast_list_is_an_empty_list(server):
    result = returned(server, "oid-query", adapter="nicemu0", oid="OID_802_3_MULTICAST_LIST")
    assert (result["status"], result["data"], result["value"]) == ("SUCCESS", "", [])


@pytest.mark.parametrize("oid", [0x00010107, "0x00010107", "65799"])
def test_control__oid_query_takes_the_oid_as_a_number_too(server, oid):
    assert returned(server, "oid-query", adapter="nicemu0", oid=oid)["value"] == 100_000_000


def test_control__oid_query_with_too_little_room_returns_buffer_too_short_and_bytes_needed(server):
    assert returned(server, "oid-query", adapter="nicemu0", oid="OID_GEN_RCV_OK", length=4) == {
        "status": "BUFFER_TOO_SHORT", "data": "", "bytes_written": 0, "bytes_needed": 8, "value": None}


def test_control__oid_query_of_an_oid_the_miniport_lacks_returns_not_supported(server):
    assert returned(server, "oid-query", adapter="nicemu0", oid=0x00010203) == {
        "status": "NOT_SUPPORTED", "data": "", "bytes_written": 0, "bytes_needed": 0, "value": None}


def test_control__oid_query_counts_as_an_ndis_oid_request(server):
    before = server.report()["ndis"]["oid_requests"]
    returned(server, "oid-query", adapter="nicemu0", oid="OID_GEN_LINK_SPEED")
    assert server.report()["ndis"]["oid_requests"] == before + 1


def test_control__oid_query_of_unknown_adapter_is_an_error(server):
    assert run(server, "oid-query", adapter="eth0", oid="OID_GEN_LINK_SPEED") == error(no_adapter(server, "eth0"))


def test_control__oid_query_of_unknown_oid_name_is_an_error_listing_the_known_ones(server):
    response = run(server, "oid-query", adapter="nicemu0", oid="OID_GEN_SPEED")
    assert response["error"]["class"] == "GenericError"
    desc = response["error"]["desc"]
    assert desc.startswith(
        "'oid' 'OID_GEN_SPEED' is neither a number nor an OID nicemu knows (OID_GEN_MAXIMUM_FRAME_SIZE, ")
    assert desc.endswith(", OID_802_3_MAXIMUM_LIST_SIZE)")


@pytest.mark.parametrize("oid", [-1, 0x1_0000_0000])
def test_control__oid_query_of_an_oid_outside_a_ulong_is_an_error(server, oid):
    assert run(server, "oid-query", adapter="nicemu0", oid=oid) == error(f"'oid' {oid:#x} is outside 0..0xffffffff")


def test_control__oid_query_with_a_negative_length_is_an_error(server):
    assert run(server, "oid-query", adapter="nicemu0", oid="OID_GEN_LINK_SPEED", length=-1) == error(
        "'length' must be 0 or more, not -1")


# --- oid-set ----------------------------------------------------------------------


def test_control__oid_set_with_a_value_sets_the_packet_filter(server):
    assert returned(server, "oid-set", adapter="nicemu0", oid="OID_GEN_CURRENT_PACKET_FILTER", value=0x09) == {
        "status": "SUCCESS", "bytes_read": 4, "bytes_needed": 0}
    assert server.host.adapter("nicemu0").packet_filter == PacketType.DIRECTED | PacketType.BROADCAST


def test_control__oid_set_with_hex_data_sets_the_packet_filter(server):
    assert returned(server, "oid-set", adapter="nicemu0", oid="OID_GEN_CURRENT_PACKET_FILTER", data="21000000") == {
        "status": "SUCCESS", "bytes_read": 4, "bytes_needed": 0}
    assert server.host.adapter("nicemu0").packet_filter == PacketType.DIRECTED | PacketType.PROMISCUOUS


def test_control__oid_set_with_macs_sets_the_multicast_list(server):
    assert returned(server, "oid-set", adapter="nicemu0", oid="OID_802_3_MULTICAST_LIST",
                    macs=["01:00:5e:00:00:01", "33-33-00-00-00-01"]) == {
        "status": "SUCCESS", "bytes_read": 12, "bytes_needed": 0}
    assert server.host.adapter("nicemu0").multicast_list == [bytes.fromhex("01005e000001"),
                                                            bytes.fromhex("333300000001")]


def test_control__oid_set_with_an_empty_macs_list_empties_the_multicast_list(server):
    server.host.adapter("nicemu0").multicast_list = [bytes.fromhex("01005e000001")]
    assert returned(server, "oid-set", adapter="nicemu0", oid="OID_802_3_MULTICAST_LIST", macs=[]) == {
        "status": "SUCCESS", "bytes_read": 0, "bytes_needed": 0}
    assert server.host.adapter("nicemu0").multicast_list == []


def test_control__oid_set_of_a_unicast_multicast_entry_returns_invalid_data(server):
    assert returned(server, "oid-set", adapter="nicemu0", oid="OID_802_3_MULTICAST_LIST",
                    macs=["52:54:00:12:34:56"]) == {"status": "INVALID_DATA", "bytes_read": 0, "bytes_needed": 0}


def test_control__oid_set_of_a_short_packet_filter_returns_invalid_length_and_bytes_needed(server):
    assert returned(server, "oid-set", adapter="nicemu0", oid="OID_GEN_CURRENT_PACKET_FILTER", data="0100") == {
        "status": "INVALID_LENGTH", "bytes_read": 0, "bytes_needed": 4}


def test_control__oid_set_of_an_unsupported_filter_bit_returns_not_supported_and_changes_nothing(server):
    before = server.host.adapter("nicemu0").packet_filter
    assert returned(server, "oid-set", adapter="nicemu0", oid="OID_GEN_CURRENT_PACKET_FILTER", value=0x100) == {
        "status": "NOT_SUPPORTED", "bytes_read": 0, "bytes_needed": 0}
    assert server.host.adapter("nicemu0").packet_filter == before


def test_control__oid_set_of_a_query_only_oid_returns_not_supported(server):
    assert returned(server, "oid-set", adapter="nicemu0", oid="OID_GEN_LINK_SPEED", value=1)["status"] == (
        "NOT_SUPPORTED")


def test_control__oid_set_of_unknown_adapter_is_an_error(server):
    assert run(server, "oid-set", adapter="nicemu1", oid="OID_GEN_CURRENT_PACKET_FILTER", value=1) == error(
        no_adapter(server, "nicemu1"))


@pytest.mark.parametrize("given, got", [
    ({}, ""),
    ({"data": "01000000", "value": 1}, "; it got 'data' and 'value'"),
    ({"value": 1, "macs": []}, "; it got 'value' and 'macs'"),
])
def test_control__oid_set_needs_exactly_one_of_data_value_and_macs(server, given, got):
    assert run(server, "oid-set", adapter="nicemu0", oid="OID_GEN_CURRENT_PACKET_FILTER", **given) == error(
        f"oid-set takes exactly one of 'data' (hex), 'value' (a ULONG) or 'macs' (a list of MAC addresses){got}")


def test_control__oid_set_with_data_that_is_not_hex_is_an_error(server):
    assert run(server, "oid-set", adapter="nicemu0", oid="OID_GEN_CURRENT_PACKET_FILTER", data="0x01") == error(
        "'data' must be hex digits, two per byte (like \"0b000000\"), not \"0x01\"")


def test_control__oid_set_with_a_value_beyond_a_ulong_is_an_error(server):
    assert run(server, "oid-set", adapter="nicemu0", oid="OID_GEN_CURRENT_PACKET_FILTER", value=1 << 32) == error(
        "'value' 4294967296 does not fit a ULONG (0..4294967295)")


def test_control__oid_set_with_a_bad_mac_is_an_error_naming_it(server):
    assert run(server, "oid-set", adapter="nicemu0", oid="OID_802_3_MULTICAST_LIST", macs=["01:00:5e"]) == error(
        "'macs': invalid MAC address '01:00:5e': expected six hex octets separated by ':' or '-', "
        "like 52:55:0a:00:02:02")


# --- requests that are wrong -----------------------------------------------------------


def test_control__the_id_comes_back_with_a_return(server):
    assert execute(server, {"execute": "query-version", "id": {"n": 7}}) == {"return": {"nicemu": "0.1.0"},
                                                                             "id": {"n": 7}}


def test_control__the_id_comes_back_with_an_error(server):
    assert execute(server, {"execute": "nope", "id": "a"}) == {
        "error": {"class": "CommandNotFound", "desc": "there is no command 'nope'; query-commands lists them"},
        "id": "a"}


def test_control__unknown_command_is_command_not_found(server):
    assert execute(server, {"execute": "query-filterz"}) == error(
        "there is no command 'query-filterz'; query-commands lists them", "CommandNotFound")


@pytest.mark.parametrize("message, desc", [
    ([1, 2], 'a request must be a JSON object like {"execute": "query-version"}, not [1, 2]'),
    ("query-version", 'a request must be a JSON object like {"execute": "query-version"}, not "query-version"'),
    ({}, "the request has no 'execute' member naming the command"),
    ({"arguments": {}}, "the request has no 'execute' member naming the command"),
    ({"execute": 3}, "'execute' must be a command name, not 3"),
    ({"execute": "query-version", "args": {}},
     "a request has no member 'args'; it has 'execute', 'arguments' and 'id'"),
    ({"execute": "query-version", "arguments": None}, "'arguments' must be a JSON object, not null"),
    ({"execute": "query-version", "arguments": ["x"]}, "'arguments' must be a JSON object, not [\"x\"]"),
])
def test_control__a_malformed_request_is_an_error_saying_what_is_wrong(server, message, desc):
    assert execute(server, message) == error(desc)


@pytest.mark.parametrize("command, arguments, desc", [
    ("oid-query", {"oid": "OID_GEN_LINK_SPEED"}, "oid-query needs the argument 'adapter'"),
    ("oid-query", {"adapter": "nicemu0"}, "oid-query needs the argument 'oid'"),
    ("oid-set", {"oid": 1, "value": 1}, "oid-set needs the argument 'adapter'"),
    ("oid-query", {"adapter": "nicemu0", "oid": 1, "size": 4},
     "oid-query has no argument 'size'; it takes 'adapter', 'oid', 'length'"),
    ("query-adapters", {"adapter": "nicemu0"}, "query-adapters has no argument 'adapter'; it takes none"),
    ("query-stats", {"adapters": "nicemu0"}, "query-stats has no argument 'adapters'; it takes 'adapter'"),
    ("oid-query", {"adapter": 0, "oid": 1}, "oid-query: 'adapter' must be a string, not 0"),
    ("oid-query", {"adapter": "nicemu0", "oid": 1.5}, "oid-query: 'oid' must be a string or an integer, not 1.5"),
    ("oid-query", {"adapter": "nicemu0", "oid": 1, "length": "64"},
     "oid-query: 'length' must be an integer, not \"64\""),
    ("oid-query", {"adapter": "nicemu0", "oid": 1, "length": True}, "oid-query: 'length' must be an integer, not true"),
    ("oid-set", {"adapter": "nicemu0", "oid": 1, "macs": "01:00:5e:00:00:01"},
     "oid-set: 'macs' must be a list of strings or null, not \"01:00:5e:00:00:01\""),
    ("oid-set", {"adapter": "nicemu0", "oid": 1, "macs": [1]},
     "oid-set: 'macs' must be a list of strings or null, not [1]"),
    ("query-stats", {"adapter": ["nicemu0", "nicemu1", "nicemu2", "nicemu3"]},
     "query-stats: 'adapter' must be a string or null, not [\"nicemu0\", \"nicemu1\", \"nicemu2\", \"ni..."),
])
def test_control__a_missing_extra_or_ill_typed_argument_is_an_error_naming_it(server, command, arguments, desc):
    assert run(server, command, **arguments) == error(desc)


def test_control__a_request_line_that_is_not_json_is_an_error(server):
    assert execute_line(server, b'{"execute": \n') == error(
        "the request is not JSON: Expecting value: line 2 column 1 (char 13)")


def test_control__a_request_line_that_is_not_utf8_is_an_error(server):
    assert execute_line(server, b"\xff\n") == error(
        "the request is not JSON: 'utf-8' codec can't decode byte 0xff in position 0: invalid start byte")


def test_control__a_request_line_nested_too_deeply_is_an_error(server):
    response = execute_line(server, b"[" * 100_000)
    assert response["error"]["desc"].startswith("the request is not JSON: maximum recursion depth exceeded")


def test_control__a_request_line_is_carried_out(server):
    assert execute_line(server, b'{"execute": "query-version", "id": 1}\n') == {"return": {"nicemu": "0.1.0"},
                                                                                 "id": 1}


def test_control__a_command_that_fails_inside_gives_an_error_response_not_an_exception(server, monkeypatch):
    def broken(server):
        raise RuntimeError("oops")

    monkeypatch.setitem(commands.COMMANDS, "query-version", broken)
    assert execute(server, {"execute": "query-version", "id": 2}) == {
        "error": {"class": "GenericError", "desc": "the command failed inside nicemu: RuntimeError('oops')"}, "id": 2}


def test_control__query_filters_shows_each_adapters_stack_with_state_and_counters():
    from nicemu.filters.passthrough import PassThroughFilter

    server = NicemuServer(Host(verifier=True))
    server.host.add_adapter(0.0)
    server.host.ndis.f_register_filter_driver(PassThroughFilter(server.host.ndis))
    response = execute(server, {"execute": "query-filters"})
    stacks = {entry["adapter"]: entry["filters"] for entry in response["return"]}
    assert set(stacks) == {"vnic0", "nicemu0"}
    (module,) = stacks["nicemu0"]
    # Attached while the stack was paused, so restarted once and never paused.
    assert module == {"name": "passthrough", "altitude": 1000, "state": "running", "counters": {"restarts": 1}}


def test_control__query_switch_shows_ports_and_the_mac_table():
    server = NicemuServer(Host(verifier=True))
    server.host.add_adapter(0.0)
    (segment,) = execute(server, {"execute": "query-switch"})["return"]
    assert segment["host_vnic"] == "vnic0" and set(segment["ports"]) == {"nicemu0", "host"}
    assert segment["mac_table"] == {}
