"""Bad input from a user gets one clear message naming what is wrong, and a non-zero exit."""

import pytest

from nicemu.cli import main


@pytest.mark.parametrize("argv, words", [
    (["serve"], "at least one of --listen, --connect or --dgram"),
    (["serve", "--listen", "tcp:127.0.0.1"], "--listen: 'tcp:127.0.0.1' is not HOST:PORT"),
    (["serve", "--connect", "ftp:x"], "--connect: 'ftp:x' is neither tcp:HOST:PORT nor unix:PATH"),
    (["serve", "--dgram", "udp:127.0.0.1:1"], "--dgram: 'udp:127.0.0.1:1' needs @RHOST:RPORT"),
    (["serve", "--listen", "unix:/tmp/x", "--mac", "zz:zz"], "--mac"),
    (["serve", "--listen", "unix:/tmp/x", "--mac", "01:00:5e:00:00:01"], "multicast"),
    (["serve", "--listen", "unix:/tmp/x", "--mtu", "9"], "--mtu: 9 is outside 68..65521"),
    (["vm", "--netdev", "carrier-pigeon"], "invalid choice: 'carrier-pigeon'"),
])
def test_cli__bad_flags_exit_2_with_one_clear_message(capsys, argv, words):
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    assert words in capsys.readouterr().err


def test_cli__serve_on_a_path_that_is_not_a_socket_fails_cleanly(capsys, tmp_path):
    precious = tmp_path / "precious.txt"
    precious.write_text("keep")
    assert main(["serve", "--listen", f"unix:{precious}"]) == 1
    assert "is not a socket" in capsys.readouterr().err
    assert precious.read_text() == "keep"


def test_cli__vm_with_a_missing_script_says_so(capsys, tmp_path):
    assert main(["vm", "--script", str(tmp_path / "nope.sh")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_cli__host_options_choose_isolated_segments_and_the_verifier():
    from nicemu.cli import build_parser, host_from_args

    args = build_parser().parse_args(["serve", "--listen", "unix:/tmp/x", "--segments", "isolated", "--verifier"])
    host = host_from_args(args)
    assert host.config.isolated and host.ndis.verifier
    assert host.vnics == []  # an isolated network is made with each guest
    default = host_from_args(build_parser().parse_args(["serve", "--listen", "unix:/tmp/x"]))
    assert not default.config.isolated and not default.ndis.verifier and len(default.vnics) == 1
