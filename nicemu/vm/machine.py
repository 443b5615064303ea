"""Booting a guest from the guest kit under QEMU, reading its console, and never leaving QEMU behind.

A guest booted by `GuestVM` runs guest/init: it loads the driver of its one
NIC, configures it, prints ``NICEMU-READY ...``, runs the test script QEMU
hands it through fw_cfg, prints ``NICEMU-RESULT status=N`` and powers off.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import re
import shutil
import signal
import sys
import tempfile
import termios
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from qemu.qmp import ConnectError, QMPClient, Runstate

from nicemu.vm.accel import QEMU_BINARY, choose_accel, find_qemu
from nicemu.vm.console import ConsoleLog, LineSplitter
from nicemu.vm.errors import QemuFailed
from nicemu.vm.kit import GuestKit

MACHINE = "q35"
"""QEMU machine type: measured to boot to NICEMU-READY faster than ``pc`` under TCG (3.6 s vs 4.4 s)."""
MEMORY = "256M"
KERNEL_ARGS = "console=ttyS0 quiet loglevel=3 panic=-1"
SCRIPT_FW_CFG = "opt/nicemu/script"
"""The fw_cfg name guest/init reads the test script from."""
DEFAULT_NETDEV_ID = "n0"

_MAC = re.compile(r"[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}")
_NETDEV_ID = re.compile(r"(?:^|,)id=((?:[^,]|,,)+)")

# guest/init powers off right after the RESULT line; these bound each step
# of making QEMU go when it does not.
_POWEROFF_SECONDS = 2.0
_QUIT_SECONDS = 2.0
_TERM_SECONDS = 2.0
_QMP_CONNECT_SECONDS = 10.0
_QMP_DRAIN_SECONDS = 0.5

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent() -> None:
    # Runs in the child before exec. When nicemu is killed outright its
    # finally blocks never run: the kernel then kills QEMU, so no orphaned
    # TCG guest keeps a core busy.
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _opt(value: str | Path) -> str:
    """``value`` escaped for a QEMU ``key=value,...`` option, where a comma is doubled."""
    return str(value).replace(",", ",,")


@dataclass(frozen=True, slots=True)
class GuestResult:
    """How a guest's test script run went."""

    status: int | None
    """The script's exit status from NICEMU-RESULT; None if the guest never printed one."""
    output: str
    """The console text between NICEMU-READY and NICEMU-RESULT: the script's output."""
    console: str
    """Everything the guest printed on its console."""
    ready: dict[str, str] | None
    """The NICEMU-READY fields (iface, driver, mac, carrier, ip); None if the NIC never came up."""
    elapsed: float
    """Seconds from QEMU's start to NICEMU-RESULT, or to the run's end without one."""
    timed_out: bool
    """True if the timeout expired before NICEMU-RESULT."""
    events: tuple[tuple[str, dict[str, object]], ...] = ()
    """QMP events as (name, data), in order."""
    boot_time: float | None = None
    """Seconds from QEMU's start to NICEMU-READY."""
    exit_code: int | None = None
    """QEMU's exit status (negative: killed by that signal); None if it had to be killed later."""

    @property
    def ok(self) -> bool:
        """True if the script ran and exited with status 0."""
        return self.status == 0


class GuestVM:
    """One QEMU guest booted from the guest kit, with one NIC on the given ``-netdev``.

    ``netdev`` is the value of QEMU's ``-netdev`` option (``user,id=n0``,
    ``stream,id=n0,...``); without an ``id=`` one is added. The NIC is
    ``-device NIC,netdev=ID,mac=MAC`` with its option ROM off unless
    ``nic_rom`` (iPXE lives there; a direct kernel boot does not need it, and
    skipping it saves about a second). ``ip`` and ``gw`` are passed to
    guest/init (``none`` leaves them unset).

    Use `run_script` for a whole run, or ``async with vm:`` then `wait` to
    reach `qmp` while the guest runs; `interactive` gives a shell on this
    terminal.
    """

    def __init__(
        self,
        kit: GuestKit,
        netdev: str,
        nic: str = "virtio-net-pci",
        mac: str = "52:54:00:12:34:56",
        script: Path | None = None,
        accel: str = "auto",
        timeout: float = 60.0,
        ip: str = "10.0.2.15/24",
        gw: str = "10.0.2.2",
        extra_args: Sequence[str] = (),
        name: str = "guest",
        *,
        nic_rom: bool = False,
        on_console_line: Callable[[str], None] | None = None,
    ) -> None:
        if not _MAC.fullmatch(mac):
            raise ValueError(f"MAC address {mac!r} is not six colon-separated hex bytes")
        for label, value in (("ip", ip), ("gw", gw)):
            if not value or any(c.isspace() for c in value):
                raise ValueError(f"{label} {value!r} must be one word for the kernel command line")
        found = _NETDEV_ID.search(netdev)
        if found:
            self.netdev_id = found.group(1).replace(",,", ",")
            self.netdev = netdev
        else:
            self.netdev_id = DEFAULT_NETDEV_ID
            self.netdev = f"{netdev},id={DEFAULT_NETDEV_ID}"
        self.kit = kit
        self.nic = nic
        self.mac = mac.lower()
        self.script = Path(script) if script is not None else None
        self.accel = accel
        self.timeout = timeout
        self.ip = ip
        self.gw = gw
        self.extra_args = tuple(extra_args)
        self.name = name
        self.nic_rom = nic_rom
        self.on_console_line = on_console_line

        self._proc: asyncio.subprocess.Process | None = None
        self._exited: asyncio.Task[int] | None = None
        self._readers: list[asyncio.Task[None]] = []
        self._qmp: QMPClient | None = None
        self._workdir: Path | None = None
        self._console = ConsoleLog()
        self._finished = asyncio.Event()
        self._stderr = bytearray()
        self._started_at = 0.0
        self._ready_at: float | None = None
        self._finished_at: float | None = None

    # --- command line -----------------------------------------------------------

    def command_line(
        self,
        accel: str,
        *,
        mode: str = "script",
        qmp_socket: Path | None = None,
        console: str = "stdio",
    ) -> list[str]:
        """QEMU's argv for this guest with accelerator ``accel`` ("tcg" or "kvm").

        ``mode`` is guest/init's ``nicemu.mode`` (script or shell);
        ``console`` is the ``-serial`` backend (``stdio`` when the console is
        read through a pipe, ``mon:stdio`` on a terminal).
        """
        append = f"{KERNEL_ARGS} nicemu.mode={mode} nicemu.ip={self.ip} nicemu.gw={self.gw}"
        device = f"{self.nic},netdev={_opt(self.netdev_id)},mac={self.mac}"
        if not self.nic_rom:
            device += ",romfile="
        argv = [
            QEMU_BINARY,
            "-name", self.name,
            "-machine", MACHINE,
            "-accel", accel,
            # TCG's "max" has every feature it can emulate; KVM's "host" is
            # what the real CPU has.
            "-cpu", "host" if accel == "kvm" else "max",
            "-m", MEMORY,
            "-nodefaults", "-no-user-config", "-display", "none",
            # The guest reboots on a panic (panic=-1): make that an exit.
            "-no-reboot",
            "-serial", console,
            "-kernel", str(self.kit.kernel),
            "-initrd", str(self.kit.initrd),
            "-append", append,
            "-netdev", self.netdev,
            "-device", device,
        ]
        if self.script is not None:
            argv += ["-fw_cfg", f"name={SCRIPT_FW_CFG},file={_opt(self.script.resolve())}"]
        if qmp_socket is not None:
            argv += ["-chardev", f"socket,id=qmp,path={_opt(qmp_socket)},server=on,wait=off",
                     "-mon", "chardev=qmp,mode=control"]
        return argv + list(self.extra_args)

    # --- script runs ------------------------------------------------------------

    async def run_script(self) -> GuestResult:
        """Boot, run the test script, and return how it went; QEMU is gone when this returns.

        Returns at the NICEMU-RESULT line, at the timeout (``timed_out``) or
        when QEMU exits. Raises `QemuFailed` if QEMU itself fails, and
        `QemuMissing`, `GuestKitMissing` or `AccelUnavailable` when it cannot
        start. Cancelling it stops QEMU too.
        """
        await self.start()
        try:
            return await self.wait()
        finally:
            await self.stop()

    async def __aenter__(self) -> GuestVM:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def qmp(self) -> QMPClient:
        """The QMP connection to the running QEMU (e.g. for ``set_link``)."""
        if self._qmp is None:
            raise RuntimeError(f"{self.name} is not running")
        return self._qmp

    async def start(self) -> None:
        """Launch QEMU with the test script and connect to its QMP socket.

        The timeout counts from here. If this fails or is cancelled, QEMU is
        stopped before it returns.
        """
        if self._proc is not None:
            raise RuntimeError(f"{self.name} was already started; a GuestVM runs once")
        if self.script is None:
            raise ValueError("a script run needs a script; interactive() gives a shell instead")
        if not self.script.is_file():
            raise FileNotFoundError(f"test script {self.script} does not exist")
        qemu = find_qemu()
        # The KVM probe boots a guest: keep it off the event loop.
        accel = await asyncio.to_thread(choose_accel, self.accel)
        self._workdir = Path(tempfile.mkdtemp(prefix=f"nicemu-{self.name}-"))
        qmp_socket = self._workdir / "qmp.sock"
        argv = self.command_line(accel, qmp_socket=qmp_socket)
        try:
            self._started_at = time.monotonic()
            self._proc = await asyncio.create_subprocess_exec(
                qemu, *argv[1:],
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                # Its own process group, so a Ctrl-C meant for nicemu does
                # not reach QEMU first, and one signal reaches any helper
                # QEMU starts.
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
            assert self._proc.stdout is not None and self._proc.stderr is not None
            self._exited = asyncio.create_task(self._proc.wait())
            self._readers = [
                asyncio.create_task(self._read_console(self._proc.stdout)),
                asyncio.create_task(self._read_stderr(self._proc.stderr)),
            ]
            self._qmp = await self._connect_qmp(qmp_socket)
        except BaseException:
            await self.stop()
            raise

    async def wait(self) -> GuestResult:
        """Wait for the script's result, the timeout or QEMU's exit; then have QEMU quit.

        Raises `QemuFailed` if QEMU exits with an error before the result,
        and whatever ``on_console_line`` raised.
        """
        if self._proc is None or self._exited is None:
            raise RuntimeError(f"{self.name} was not started")
        console_reader = self._readers[0]
        finished = asyncio.create_task(self._finished.wait())
        remaining = self._started_at + self.timeout - time.monotonic()
        try:
            await asyncio.wait({finished, console_reader}, timeout=max(remaining, 0.0),
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            finished.cancel()
        if console_reader.done() and not console_reader.cancelled() and console_reader.exception():
            raise console_reader.exception()  # type: ignore[misc]
        timed_out = not self._console.finished and not console_reader.done()
        ended_at = self._finished_at if self._finished_at is not None else time.monotonic()

        if self._console.finished:
            await self._exit_within(_POWEROFF_SECONDS)
        await self._quit()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_QMP_DRAIN_SECONDS):
                await asyncio.gather(*self._readers, return_exceptions=True)
        exit_code = self._proc.returncode
        if exit_code not in (None, 0) and not self._console.finished and not timed_out:
            raise QemuFailed(self._failure_message(exit_code))
        return GuestResult(
            status=self._console.status,
            output=self._console.output,
            console=self._console.text,
            ready=self._console.ready,
            elapsed=ended_at - self._started_at,
            timed_out=timed_out,
            events=await self._events(),
            boot_time=None if self._ready_at is None else self._ready_at - self._started_at,
            exit_code=exit_code,
        )

    async def stop(self) -> None:
        """Make sure QEMU is gone (QMP quit, then SIGTERM, then SIGKILL) and clean up.

        Safe to call more than once and in any state.
        """
        proc = self._proc
        try:
            if proc is not None and proc.returncode is None:
                await self._quit()
                if proc.returncode is None:
                    self._signal(signal.SIGTERM)
                    if not await self._exit_within(_TERM_SECONDS):
                        self._signal(signal.SIGKILL)
                        await proc.wait()
        finally:
            # Reached even when this stop is itself cancelled part way: the
            # kill must not depend on any further await.
            if proc is not None and proc.returncode is None:
                self._signal(signal.SIGKILL)
            for task in (*self._readers, self._exited):
                if task is not None:
                    task.cancel()
            if self._workdir is not None:
                shutil.rmtree(self._workdir, ignore_errors=True)
                self._workdir = None
            qmp, self._qmp = self._qmp, None
            if qmp is not None:
                with contextlib.suppress(Exception):
                    await qmp.disconnect()

    # --- interactive --------------------------------------------------------------

    async def interactive(self) -> int:
        """Boot to a shell on this terminal and return QEMU's exit status when it ends.

        The serial console and QEMU's monitor share the terminal (Ctrl-A X
        quits QEMU, Ctrl-A C switches to the monitor); ``exit`` in the shell
        powers the guest off. A script, if given, is in the guest as
        /tmp/script.
        """
        qemu = find_qemu()
        accel = await asyncio.to_thread(choose_accel, self.accel)
        argv = self.command_line(accel, mode="shell", console="mon:stdio")
        saved = _save_terminal()
        # Same process group as nicemu: QEMU reads the terminal, which only
        # the terminal's foreground group may do.
        proc = await asyncio.create_subprocess_exec(qemu, *argv[1:], preexec_fn=_die_with_parent)
        try:
            return await proc.wait()
        finally:
            if proc.returncode is None:
                proc.terminate()
                try:
                    async with asyncio.timeout(_TERM_SECONDS):
                        await proc.wait()
                except TimeoutError:
                    pass
                finally:
                    if proc.returncode is None:
                        proc.kill()
            _restore_terminal(saved)

    # --- internals ---------------------------------------------------------------

    def _on_line(self, line: str) -> None:
        was_ready = self._console.ready is not None
        self._console.feed(line)
        now = time.monotonic()
        if not was_ready and self._console.ready is not None:
            self._ready_at = now
        if self._console.finished and not self._finished.is_set():
            self._finished_at = now
            self._finished.set()
        if self.on_console_line is not None:
            self.on_console_line(line)

    async def _read_console(self, stream: asyncio.StreamReader) -> None:
        splitter = LineSplitter()
        while chunk := await stream.read(65536):
            for line in splitter.feed(chunk):
                self._on_line(line)
        for line in splitter.flush():
            self._on_line(line)

    async def _read_stderr(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(65536):
            self._stderr += chunk

    async def _connect_qmp(self, path: Path) -> QMPClient | None:
        # QEMU creates the socket early in its start-up; poll for it rather
        # than fix a delay, and stop at once if QEMU exits instead: with an
        # error that is a failure, with status 0 a guest that was quick.
        assert self._exited is not None
        deadline = time.monotonic() + _QMP_CONNECT_SECONDS
        while True:
            if path.exists():
                client = QMPClient(self.name)
                try:
                    await client.connect(str(path))
                    return client
                except ConnectError:
                    pass
            if self._exited.done():
                if self._exited.result() == 0:
                    return None
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(_QMP_DRAIN_SECONDS):
                        await asyncio.gather(*self._readers, return_exceptions=True)
                raise QemuFailed(self._failure_message(self._exited.result()))
            if time.monotonic() > deadline:
                raise QemuFailed(f"QEMU's QMP socket {path} did not come up in {_QMP_CONNECT_SECONDS:g} s")
            await asyncio.wait({self._exited}, timeout=0.02)

    async def _exit_within(self, seconds: float) -> bool:
        assert self._exited is not None
        done, _ = await asyncio.wait({self._exited}, timeout=seconds)
        return bool(done)

    async def _quit(self) -> None:
        assert self._proc is not None
        if self._proc.returncode is not None:
            return
        if self._qmp is not None and self._qmp.runstate == Runstate.RUNNING:
            # QEMU may exit before it answers; whether it did is seen below.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(_QUIT_SECONDS):
                    await self._qmp.execute("quit")
        await self._exit_within(_QUIT_SECONDS)

    async def _events(self) -> tuple[tuple[str, dict[str, object]], ...]:
        if self._qmp is None:
            return ()
        # Events QEMU sent just before it exited may still be unread; the
        # client sees the connection's end only after all of them.
        if self._proc is not None and self._proc.returncode is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_QMP_DRAIN_SECONDS):
                    while self._qmp.runstate == Runstate.RUNNING:
                        await self._qmp.runstate_changed()
        return tuple((str(msg["event"]), dict(msg.get("data", {}))) for msg in self._qmp.events.history)

    def _signal(self, signum: int) -> None:
        assert self._proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, signum)

    def _failure_message(self, exit_code: int) -> str:
        stderr = self._stderr.decode(errors="replace").strip()
        return f"QEMU exited with status {exit_code}" + (f": {stderr}" if stderr else " and no message")


def _save_terminal() -> list[object] | None:
    if not sys.stdin.isatty():
        return None
    return termios.tcgetattr(sys.stdin.fileno())


def _restore_terminal(saved: list[object] | None) -> None:
    # QEMU puts the terminal in raw mode and restores it on a clean exit;
    # this covers the exits that are not.
    if saved is not None:
        with contextlib.suppress(OSError, termios.error):
            termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, saved)
