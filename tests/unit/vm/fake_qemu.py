"""A stand-in for qemu-system-x86_64: a guest console on stdout and a minimal QMP server.

GuestVM runs it with QEMU's argv; FAKE_QEMU_MODE picks the behaviour:

- ``ok``: READY, one output line, RESULT status=3, a SHUTDOWN event, exit 0
- ``hang``: READY, then nothing until QMP ``quit``
- ``stubborn``: like hang, but ignores ``quit`` and SIGTERM
- ``fail``: an error on stderr and exit status 1, before any QMP socket
- ``crash``: READY, then exit status 0 with no RESULT (a guest that reset)
"""

import json
import os
import signal
import socket
import sys
import threading
import time

MODE = os.environ.get("FAKE_QEMU_MODE", "ok")
NEGOTIATED = threading.Event()
"""Set once qmp_capabilities is answered: like QEMU, no event goes out before that."""


def qmp_socket_path(argv):
    for i, arg in enumerate(argv):
        if arg == "-chardev" and argv[i + 1].startswith("socket,id=qmp,"):
            for option in argv[i + 1].split(","):
                if option.startswith("path="):
                    return option[len("path="):]
    raise SystemExit("fake qemu: no QMP chardev in argv")


def send(conn, message):
    conn.sendall(json.dumps(message).encode() + b"\r\n")


def event(name, data):
    return {"event": name, "data": data, "timestamp": {"seconds": int(time.time()), "microseconds": 0}}


def serve_qmp(server, connections):
    conn, _ = server.accept()
    connections.append(conn)
    send(conn, {"QMP": {"version": {"qemu": {"major": 7, "minor": 2, "micro": 0}, "package": ""},
                        "capabilities": []}})
    # Like QEMU, parse a stream of JSON objects: qemu.qmp ends them with no newline.
    decoder = json.JSONDecoder()
    buffer = ""
    while True:
        data = conn.recv(4096)
        if not data:
            return
        buffer += data.decode()
        while buffer.strip():
            try:
                request, end = decoder.raw_decode(buffer.lstrip())
            except ValueError:
                break
            buffer = buffer.lstrip()[end:]
            reply = {"return": {}}
            if "id" in request:
                reply["id"] = request["id"]
            send(conn, reply)
            if request["execute"] == "qmp_capabilities":
                NEGOTIATED.set()
            if request["execute"] == "quit" and MODE != "stubborn":
                send(conn, event("SHUTDOWN", {"guest": False, "reason": "host-qmp-quit"}))
                os._exit(0)


def console(line):
    sys.stdout.write(line + "\r\n")
    sys.stdout.flush()


def main():
    if MODE == "fail":
        sys.stderr.write("qemu-system-x86_64: -netdev bogus: invalid\n")
        sys.exit(1)
    if MODE == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(qmp_socket_path(sys.argv))
    server.listen(1)
    connections = []
    threading.Thread(target=serve_qmp, args=(server, connections), daemon=True).start()
    console("SeaBIOS noise")
    console("NICEMU-READY iface=eth0 driver=fake mac=52:54:00:12:34:56 carrier=1 ip=10.0.2.15/24")
    if MODE == "ok":
        console("script output")
        console("NICEMU-RESULT status=3")
        if NEGOTIATED.wait(2):
            send(connections[0], event("SHUTDOWN", {"guest": True, "reason": "guest-shutdown"}))
        sys.exit(0)
    if MODE == "crash":
        sys.exit(0)
    while True:
        time.sleep(1)


main()
