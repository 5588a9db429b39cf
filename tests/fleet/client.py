#!/usr/bin/env python3
"""The fleet lab's client, run inside its client namespace.

    client.py ADDRESS PORT UNTIL OUT RATE

Until unix time UNTIL, connects to ADDRESS:PORT RATE times a second, TLS 1.2 and
TLS 1.3 in turn, each version offering the latest session it holds. The
first bytes (the ClientHello) go with sendto(MSG_FASTOPEN): with a cookie
cached for the address they ride in the SYN. One JSON line per connection
goes to OUT: which host answered (the body), whether a session was offered
and resumed, whether data went in the SYN and whether the server accepted it.

Whether data went in the SYN is the client namespace's own count
(TcpExt TCPFastOpenActive + TCPFastOpenActiveFail: the kernel counts each
SYN with data once, acked or not); whether the server accepted it is the
connection's TCP_INFO (TCPI_OPT_SYN_DATA). Connections are made one at a
time, so the counters' change belongs to this connection.
"""

import json
import socket
import ssl
import struct
import sys
import time

TIMEOUT = 5  # seconds, every send and receive
REQUEST = b"GET / HTTP/1.1\r\nHost: fleet\r\nConnection: close\r\n\r\n"
TCPI_OPT_SYN_DATA = 0x20  # tcp_info.tcpi_options: the server acked the data in our SYN
VERSIONS = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}


def active_counters():
    """(SYNs with data acked, SYNs with data not acked) in this namespace."""
    with open("/proc/net/netstat") as netstat:
        names, values = [line.split() for line in netstat if line.startswith("TcpExt:")]
    counters = dict(zip(names[1:], map(int, values[1:])))
    return counters["TCPFastOpenActive"], counters["TCPFastOpenActiveFail"]


def context(version):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ctx.maximum_version = version
    return ctx


def exchange(ctx, address, session):
    """One HTTPS request over a socket whose first send carries MSG_FASTOPEN.

    TLS runs over memory buffers, so the first write of the ClientHello is
    ours to make: a blocking sendto(MSG_FASTOPEN), bounded by SO_SNDTIMEO
    (a Python timeout would make the socket non-blocking, and a connect
    without a cookie would then fail with EINPROGRESS)."""
    timeval = struct.pack("ll", TIMEOUT, 0)
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
        # The request follows the handshake's last flight at once, not after
        # the server's delayed ACK (40 ms).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = ctx.wrap_bio(incoming, outgoing, session=session)
        sent = [False]

        def flush():
            data = outgoing.read()
            if data and not sent[0]:
                sock.sendto(data, socket.MSG_FASTOPEN, address)
                sent[0] = True
            elif data:
                sock.sendall(data)

        def fill():
            chunk = sock.recv(65536)
            if chunk:
                incoming.write(chunk)
            else:
                incoming.write_eof()

        def step(operation, *args):
            while True:
                try:
                    result = operation(*args)
                    flush()
                    return result
                except ssl.SSLWantReadError:
                    flush()
                    fill()

        step(tls.do_handshake)
        step(tls.write, REQUEST)
        body = []
        while True:
            try:
                chunk = step(tls.read, 65536)
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                break
            if not chunk:
                break
            body.append(chunk)
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)
        (options,) = struct.unpack_from("B", info, 5)
        return b"".join(body), tls.session, tls.session_reused, bool(options & TCPI_OPT_SYN_DATA)


def main():
    host, port, until, out = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    pause = 1 / float(sys.argv[5])
    due = time.monotonic()
    address = (host, port)
    contexts = {name: context(version) for name, version in VERSIONS.items()}
    # version -> (session, the host that issued it, when it was issued)
    latest = {name: None for name in VERSIONS}
    with open(out, "w") as log:
        while time.time() < until:
            for name, ctx in contexts.items():
                # Paced, so that every system gets its share of the machine.
                due += pause
                time.sleep(max(0.0, due - time.monotonic()))
                offered = latest[name]
                record = {"t": time.time(), "version": name, "offered": offered is not None,
                          "issuer": offered[1] if offered else None,
                          "age": round(time.time() - offered[0].time, 3) if offered else None}
                before = active_counters()
                try:
                    body, session, reused, syn_data_acked = exchange(ctx, address, offered and offered[0])
                except (OSError, ssl.SSLError) as error:
                    record.update(error=f"{type(error).__name__}: {error}", resumed=False)
                else:
                    served_by = body.rsplit(b"\r\n\r\n", 1)[-1].decode(errors="replace").strip()
                    record.update(host=served_by, resumed=reused, tfo_accepted=syn_data_acked)
                    if session is not None and session.has_ticket:
                        # A resumed session keeps its issuer's family (a
                        # re-issued ticket comes from the same keys).
                        issuer = offered[1] if reused else served_by
                        latest[name] = (session, issuer)
                after = active_counters()
                acked, not_acked = (b - a for a, b in zip(before, after))
                record["tfo_attempt"] = acked + not_acked > 0
                record["tfo_counted_acked"] = acked > 0
                log.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
