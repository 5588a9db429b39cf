#!/usr/bin/env python3
"""The two ends of a TCP Fast Open connection, run inside a network namespace.

    tfo_peer.py serve ADDRESS PORT   echo server; prints "ready" once listening,
                                     exits when its standard input closes
    tfo_peer.py send ADDRESS PORT    one connection with data in the SYN; prints
                                     a JSON report of what happened

They are separate processes because a process can only enter a namespace
through `ip netns exec` here (os.setns needs Python 3.12).
"""

import json
import selectors
import socket
import struct
import sys

PAYLOAD = b"tofurkey says hello in the SYN"
TIMEOUT = 5  # seconds; every wait is bounded, so nothing hangs
# tcp_info.tcpi_options (the sixth byte) bit: the server acked the data in our SYN.
TCPI_OPT_SYN_DATA = 0x20


def serve(address, port):
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((address, port))
    # A queue length enables TFO on this listener; the sysctl alone does not.
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN, 16)
    listener.listen()
    events = selectors.DefaultSelector()
    events.register(listener, selectors.EVENT_READ)
    # The test holds our stdin; EOF means it is gone, even if it died hard.
    events.register(sys.stdin, selectors.EVENT_READ)
    print("ready", flush=True)
    while True:
        for key, _ in events.select():
            if key.fileobj is sys.stdin:
                if not sys.stdin.buffer.read1(4096):
                    return
                continue
            connection, _ = listener.accept()
            with connection:
                connection.settimeout(TIMEOUT)
                connection.sendall(connection.recv(len(PAYLOAD)))


def send(address, port):
    with socket.socket() as client:
        # Blocking on purpose: a timeout would make the socket non-blocking,
        # and sendto(MSG_FASTOPEN) would then fail with EINPROGRESS when no
        # cookie is cached. The caller bounds this process with its own timeout.
        client.sendto(PAYLOAD, socket.MSG_FASTOPEN, (address, port))
        client.settimeout(TIMEOUT)
        echo = client.recv(len(PAYLOAD))
        info = client.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)
    (options,) = struct.unpack_from("B", info, 5)
    json.dump({"echoed": echo == PAYLOAD,
               "syn_data_acked": bool(options & TCPI_OPT_SYN_DATA)}, sys.stdout)


if __name__ == "__main__":
    role, address, port = sys.argv[1:]
    {"serve": serve, "send": send}[role](address, int(port))
