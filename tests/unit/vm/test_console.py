"""The console as the host reads it: lines from chunks, and the READY and RESULT lines."""

from nicemu.vm.console import ConsoleLog, LineSplitter, parse_ready, parse_result

READY = "NICEMU-READY iface=eth0 driver=e1000 mac=52:54:00:12:34:56 carrier=1 ip=10.0.2.15/24"


def test_splitter__joins_lines_across_chunks_and_drops_crlf():
    splitter = LineSplitter()
    assert splitter.feed(b"first li") == []
    assert splitter.feed(b"ne\r\nsecond\r\nthi") == ["first line", "second"]
    assert splitter.feed(b"rd\n") == ["third"]
    assert splitter.flush() == []


def test_splitter__flush_returns_an_unterminated_last_line():
    splitter = LineSplitter()
    splitter.feed(b"done\r\nNICEMU-RES")
    assert splitter.flush() == ["NICEMU-RES"]
    assert splitter.flush() == []


def test_splitter__replaces_bytes_that_are_not_utf8():
    assert LineSplitter().feed(b"bad \xff byte\n") == ["bad \ufffd byte"]


def test_parse_ready__returns_every_field():
    assert parse_ready(READY) == {
        "iface": "eth0", "driver": "e1000", "mac": "52:54:00:12:34:56", "carrier": "1", "ip": "10.0.2.15/24",
    }


def test_parse_ready__finds_the_marker_after_console_noise():
    assert parse_ready(f"[    2.5] random: crng init done{READY}")["driver"] == "e1000"


def test_parse_ready__keeps_empty_values_and_dashes():
    assert parse_ready("NICEMU-READY iface=eth0 driver=ne2k-pci ip=")["driver"] == "ne2k-pci"
    assert parse_ready("NICEMU-READY iface=eth0 driver=ne2k-pci ip=")["ip"] == ""


def test_parse_ready__is_none_for_other_lines():
    assert parse_ready("eth0: link up") is None
    assert parse_ready("NICEMU-READY but not fields") is None


def test_parse_result__reads_the_status():
    assert parse_result("NICEMU-RESULT status=0") == 0
    assert parse_result("noise NICEMU-RESULT status=127") == 127


def test_parse_result__is_none_for_other_lines():
    assert parse_result("NICEMU-RESULT status=") is None
    assert parse_result("NICEMU-RESULT status=1 trailing words") is None
    assert parse_result("echo NICEMU-RESULT") is None


def test_console_log__output_is_what_lies_between_ready_and_result():
    log = ConsoleLog()
    for line in ["boot noise", READY, "PING 10.0.2.2", "5 packets received", "NICEMU-RESULT status=0", "reboot"]:
        log.feed(line)
    assert log.finished and log.status == 0
    assert log.ready["iface"] == "eth0"
    assert log.output == "PING 10.0.2.2\n5 packets received\n"
    assert log.text.splitlines() == ["boot noise", READY, "PING 10.0.2.2", "5 packets received",
                                     "NICEMU-RESULT status=0", "reboot"]


def test_console_log__a_result_without_ready_means_the_nic_never_came_up():
    log = ConsoleLog()
    log.feed("nicemu: error: no Ethernet interface: no driver claimed the NIC")
    log.feed("NICEMU-RESULT status=255")
    assert log.ready is None
    assert log.status == 255
    assert log.output == ""


def test_console_log__only_the_first_result_counts():
    log = ConsoleLog()
    log.feed(READY)
    log.feed("NICEMU-RESULT status=2")
    log.feed("NICEMU-RESULT status=0")
    assert log.status == 2


def test_console_log__is_unfinished_until_the_result():
    log = ConsoleLog()
    log.feed(READY)
    log.feed("still running")
    assert not log.finished and log.status is None
