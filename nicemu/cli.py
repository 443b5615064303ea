"""The ``nicemu`` command: serve QEMU guests, inspect a serving nicemu, boot a guest in-process, or run the demo."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from pathlib import Path

from nicemu import __version__
from nicemu.control.client import ControlError, parse_arguments, request
from nicemu.host import Host, HostConfig
from nicemu.miniport.adapter import DEFAULT_MAC
from nicemu.qemu.endpoints import EndpointError, parse_dgram, parse_stream
from nicemu.qemu.server import NicemuServer
from nicemu.report import print_report
from nicemu.wire.ethernet import parse_mac

log = logging.getLogger("nicemu")


def _mac(text: str) -> bytes:
    try:
        mac = parse_mac(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if mac[0] & 1:
        raise argparse.ArgumentTypeError(f"{text} is a multicast address; an adapter needs a unicast one")
    return mac


def _mtu(text: str) -> int:
    try:
        mtu = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 68 <= mtu <= 65521:
        raise argparse.ArgumentTypeError(f"{mtu} is outside 68..65521")
    return mtu


def _control_path(text: str) -> str:
    kind, _, path = text.partition(":")
    if kind != "unix" or not path:
        raise argparse.ArgumentTypeError(f"{text!r} is not unix:PATH (the control socket is a unix socket only)")
    return path


def _host_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("the host nicemu plays")
    group.add_argument("--mac", type=_mac, default=DEFAULT_MAC, metavar="MAC",
                       help=f"nicemu's MAC address (default {DEFAULT_MAC.hex(':')}, as QEMU's user networking)")
    group.add_argument("--mtu", type=_mtu, default=1500, help="MTU of nicemu's adapters (default 1500)")
    group.add_argument("--segments", choices=["shared", "isolated"], default="shared",
                       help="shared: every guest on one network with nicemu (default); "
                            "isolated: each guest alone with nicemu")
    group.add_argument("--verifier", action="store_true",
                       help="check every NDIS ownership rule as frames move (slower; raises on a stack bug)")


def host_from_args(args: argparse.Namespace) -> Host:
    """The Host the host options describe."""
    config = HostConfig(mac=args.mac, mtu=args.mtu, isolated=args.segments == "isolated")
    return Host(config, verifier=args.verifier)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="nicemu", description=__doc__)
    parser.add_argument("--version", action="version", version=f"nicemu {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve QEMU guests on stream or datagram sockets",
                                description="Serve QEMU guests until interrupted, then print the counters.")
    serve.add_argument("--listen", action="append", default=[], metavar="tcp:HOST:PORT|unix:PATH",
                       help="accept QEMU's -netdev stream,server=off / -netdev socket,connect= (repeatable)")
    serve.add_argument("--connect", action="append", default=[], metavar="tcp:HOST:PORT|unix:PATH",
                       help="connect to QEMU's -netdev stream,server=on / socket,listen=, reconnecting (repeatable)")
    serve.add_argument("--dgram", action="append", default=[], metavar="udp:L:LP@R:RP|udp:GROUP:PORT|unix:L@R",
                       help="exchange datagrams with QEMU's -netdev dgram / socket,udp= / socket,mcast= (repeatable)")
    serve.add_argument("--report-interval", type=float, default=0.0, metavar="SECONDS",
                       help="also print the counters every SECONDS (default: only at exit)")
    serve.add_argument("--control", type=_control_path, metavar="unix:PATH",
                       help="answer `nicemu ctl PATH ...` on this unix socket (mode 0600)")
    _host_options(serve)

    ctl = commands.add_parser("ctl", help="ask a running `nicemu serve --control` (query-stats, oid-query, ...)",
                              description="Send one command to nicemu's control socket and print what it returns "
                                          "as JSON. `query-commands` lists the commands; docs/control.md has them "
                                          "all, with their arguments.")
    ctl.add_argument("path", metavar="PATH", help="the control socket (what serve --control unix:PATH made)")
    ctl.add_argument("control_command", metavar="COMMAND", help="the command, e.g. query-adapters")
    ctl.add_argument("arguments", nargs="*", metavar="KEY=VALUE",
                     help="an argument of the command; VALUE is JSON if it parses (64, true, [...]), else a string")
    ctl.add_argument("--json", metavar="OBJECT", help="all the arguments as one JSON object instead")

    from nicemu.vm.netdev import NETDEV_KINDS

    vm = commands.add_parser("vm", help="boot a guest VM against an in-process nicemu",
                             description="Boot the guest kit against an in-process nicemu. Without --script you "
                                         "get the guest's serial console (exit the shell to power off).")
    vm.add_argument("--nic", default="virtio-net-pci", help="QEMU NIC model (default virtio-net-pci)")
    vm.add_argument("--netdev", choices=list(NETDEV_KINDS), default="stream",
                    help="how QEMU and nicemu meet (default stream: a unix socket)")
    vm.add_argument("--script", type=Path, help="run this shell script in the guest and exit with its status")
    vm.add_argument("--timeout", type=float, default=120.0, help="seconds before a --script run is stopped")
    vm.add_argument("--accel", choices=["auto", "tcg", "kvm"], default="auto",
                    help="auto uses KVM only where a probe shows it boots (default auto)")
    vm.add_argument("--report", action="store_true", help="print nicemu's counters when the guest is done")
    _host_options(vm)

    demo = commands.add_parser("demo", help="boot a guest, ping nicemu from it and show what happened")
    demo.add_argument("--nic", default="virtio-net-pci", help="QEMU NIC model (default virtio-net-pci)")
    demo.add_argument("--netdev", choices=list(NETDEV_KINDS), default="stream", help="transport (default stream)")
    demo.add_argument("--accel", choices=["auto", "tcg", "kvm"], default="auto")
    _host_options(demo)
    return parser


def _setup_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname).1s %(message)s", datefmt="%H:%M:%S")


async def _serve(args: argparse.Namespace) -> int:
    server = NicemuServer(host_from_args(args))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        for address in args.listen:
            where = await server.listen(address)
            print(f"nicemu: listening on {where}", file=sys.stderr, flush=True)
        for address in args.connect:
            server.connect(address)
            print(f"nicemu: connecting to {address}", file=sys.stderr, flush=True)
        for endpoint in args.dgram:
            await server.dgram(endpoint)
            print(f"nicemu: datagrams on {endpoint}", file=sys.stderr, flush=True)
        if args.control:
            await server.control(args.control)
            print(f"nicemu: control socket on unix:{args.control}", file=sys.stderr, flush=True)
    except (OSError, EndpointError) as error:
        await server.close()
        print(f"nicemu serve: {error}", file=sys.stderr)
        return 1
    while not stop.is_set():
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), args.report_interval or None)
        if args.report_interval and not stop.is_set():
            print_report(server.report())
    await server.close()
    print_report(server.report())
    return 0


def _ctl(path: str, command: str, arguments: dict[str, object]) -> int:
    try:
        result = request(path, command, arguments)
    except ControlError as error:
        print(f"nicemu ctl: {error}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``nicemu`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.verbose if args.command != "serve" else max(args.verbose, 1))
    if args.command == "serve":
        try:
            args.listen = [parse_stream(text, "--listen") for text in args.listen]
            args.connect = [parse_stream(text, "--connect") for text in args.connect]
            args.dgram = [parse_dgram(text, "--dgram") for text in args.dgram]
        except EndpointError as error:
            parser.error(str(error))
        if not (args.listen or args.connect or args.dgram):
            parser.error("serve needs at least one of --listen, --connect or --dgram")
        return asyncio.run(_serve(args))
    if args.command == "ctl":
        try:
            arguments = parse_arguments(args.arguments, args.json)
        except ValueError as error:
            parser.error(str(error))
        return _ctl(args.path, args.control_command, arguments)
    from nicemu.vm import session

    if args.command == "vm":
        return asyncio.run(session.run_vm(args, host_from_args(args)))
    return asyncio.run(session.run_demo(args, host_from_args(args)))


if __name__ == "__main__":
    sys.exit(main())
