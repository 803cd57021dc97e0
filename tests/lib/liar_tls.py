#!/usr/bin/python3
"""liar_tls.py: a lying DNS over TLS and DNS over HTTPS (HTTP/2) server for
the hostile-input tests of anycast-probe (tests/lib/liar.pl lies over UDP
and TCP; this one lies inside TLS and HTTP/2).

Listens on 127.0.0.1 and ::1: one port for DoT (ALPN dot), one for DoH
(ALPN h2, any path), with the certificate and key given (tests/lib/
mkcerts.sh makes them), and prints "READY <dot-port> <doh-port>" once every
socket listens. Exits when stdin reaches EOF or on SIGTERM.

How it answers is chosen per query by the first label of the query name
(`trickle.liar.test SOA`), else by --mode. The answer itself is the
question echoed with QR and AA set, rcode NOERROR, NSID "liar-tls" (when
the query asked for NSID) and, for CH TXT queries, TXT "liar-tls".

DoT modes:
  ok        a good answer
  garbage   a frame with the query's ID and a malformed message
  rawgarbage random bytes that are no frame at all (length under 12)
  hugelen   length prefix 65535, 10 bytes, then silence
  trickle   the framed answer written a byte at a time, 5 ms apart
  close     read the query and close the connection
  notls     (whole server, --mode only) answer the ClientHello with
            plain text: the handshake fails
DoH modes:
  ok        200, application/dns-message, the answer
  ctype     200 with content-type text/html
  status    503
  reset     RST_STREAM (INTERNAL_ERROR) without answering
  goaway    GOAWAY (last stream 0) without answering
  garbage   200, application/dns-message, random bytes
  huge      200, application/dns-message, 70000 bytes
  trickle   the answer in 1-byte DATA frames, 5 ms apart
  wrongq    an answer for another question
"""
import argparse
import os
import select
import signal
import socket
import ssl
import struct
import sys
import threading
import time

import h2.config
import h2.connection
import h2.events

# A response that is malformed whatever the dice say (random bytes parse,
# now and then, as a message with another question): QR set, one question
# whose first label claims 63 bytes and the message ends after 20.
BROKEN = b"\x84\x00\x00\x01\x00\x00\x00\x00\x00\x00\x3f" + b"x" * 20

MODES_DOT = {"ok", "garbage", "rawgarbage", "hugelen", "trickle", "close"}
MODES_DOH = {"ok", "ctype", "status", "reset", "goaway", "garbage", "huge",
             "trickle", "wrongq"}


def parse_question(q):
    """(first label, end of question, has NSID option, qclass, qtype)."""
    if len(q) < 12:
        return "", len(q), False, 1, 1
    i = 12
    first = None
    while i < len(q) and q[i] != 0:
        n = q[i]
        if first is None:
            first = q[i + 1:i + 1 + n].decode("ascii", "replace").lower()
        i += 1 + n
    i += 1
    qtype, qclass = struct.unpack("!HH", q[i:i + 4]) if i + 4 <= len(q) \
        else (1, 1)
    end = i + 4
    nsid = b"\x00\x03\x00\x00" in q[end:]
    return first or "", end, nsid, qclass, qtype


def answer(q, other_name=False):
    first, end, nsid, qclass, qtype = parse_question(q)
    question = q[12:end]
    if other_name:
        question = b"\x05other" + question
    flags = 0x8400 | (q[2] << 8 & 0x0100)  # QR AA, RD copied
    an = b""
    ancount = 0
    if qclass == 3 and qtype == 16:
        txt = b"liar-tls"
        an = b"\xc0\x0c" + struct.pack("!HHIH", 16, 3, 0, len(txt) + 1) + \
            bytes([len(txt)]) + txt
        ancount = 1
    opt = b""
    arcount = 0
    if nsid:
        val = b"liar-tls"
        opt = b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 4 + len(val)) + \
            struct.pack("!HH", 3, len(val)) + val
        arcount = 1
    hdr = q[0:2] + struct.pack("!HHHHH", flags, 1, ancount, 0, arcount)
    return hdr + question + an + opt


def pick(first, default, modes):
    return first if first in modes else default


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        d = s.recv(n - len(b))
        if not d:
            return None
        b += d
    return b


def serve_dot(s, mode):
    try:
        while True:
            ln = recv_exact(s, 2)
            if ln is None:
                return
            q = recv_exact(s, struct.unpack("!H", ln)[0])
            if q is None:
                return
            m = pick(parse_question(q)[0], mode, MODES_DOT)
            if m == "close":
                return
            if m == "garbage":
                body = q[0:2] + BROKEN
                s.sendall(struct.pack("!H", len(body)) + body)
            elif m == "rawgarbage":
                s.sendall(b"\x00\x05" + os.urandom(5))
            elif m == "hugelen":
                s.sendall(b"\xff\xff" + os.urandom(10))
            elif m == "trickle":
                a = answer(q)
                for c in struct.pack("!H", len(a)) + a:
                    s.sendall(bytes([c]))
                    time.sleep(0.005)
            else:
                a = answer(q)
                s.sendall(struct.pack("!H", len(a)) + a)
    except (OSError, ssl.SSLError):
        pass
    finally:
        try:
            s.close()
        except OSError:
            pass


def serve_doh(s, mode):
    conn = h2.connection.H2Connection(
        config=h2.config.H2Configuration(client_side=False,
                                         header_encoding="utf-8"))
    conn.initiate_connection()
    s.sendall(conn.data_to_send())
    bodies = {}
    try:
        while True:
            data = s.recv(65535)
            if not data:
                return
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.RequestReceived):
                    hdrs = dict(ev.headers)
                    path = hdrs.get(":path", "")
                    bodies[ev.stream_id] = b""
                    if "dns=" in path:
                        import base64
                        b64 = path.split("dns=", 1)[1].split("&")[0]
                        bodies[ev.stream_id] = base64.urlsafe_b64decode(
                            b64 + "=" * (-len(b64) % 4))
                elif isinstance(ev, h2.events.DataReceived):
                    bodies[ev.stream_id] = bodies.get(ev.stream_id, b"") + \
                        ev.data
                    conn.acknowledge_received_data(
                        ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded):
                    q = bodies.pop(ev.stream_id, b"")
                    respond(s, conn, ev.stream_id, q, mode)
            out = conn.data_to_send()
            if out:
                s.sendall(out)
    except GoneAway:
        try:
            while s.recv(65535):
                pass
        except (OSError, ssl.SSLError):
            pass
    except (OSError, ssl.SSLError, h2.exceptions.ProtocolError):
        pass
    finally:
        try:
            s.close()
        except OSError:
            pass


class GoneAway(Exception):
    """GOAWAY sent: nothing more on this connection but reading."""


def respond(s, conn, sid, q, mode):
    m = pick(parse_question(q)[0], mode, MODES_DOH)
    ct = ("content-type", "application/dns-message")
    if m == "reset":
        conn.reset_stream(sid, error_code=2)
        return
    if m == "goaway":
        conn.close_connection(error_code=0, last_stream_id=0)
        s.sendall(conn.data_to_send())
        raise GoneAway()
    if m == "status":
        conn.send_headers(sid, [(":status", "503")], end_stream=True)
        return
    if m == "ctype":
        body = answer(q)
        conn.send_headers(sid, [(":status", "200"),
                                ("content-type", "text/html")])
    elif m == "garbage":
        body = b"\x00\x00" + BROKEN
        conn.send_headers(sid, [(":status", "200"), ct])
    elif m == "huge":
        body = answer(q) + b"\x00" * 70000
        conn.send_headers(sid, [(":status", "200"), ct])
    elif m == "wrongq":
        body = answer(q, other_name=True)
        conn.send_headers(sid, [(":status", "200"), ct])
    else:
        body = answer(q)
        conn.send_headers(sid, [(":status", "200"), ct])
    if m == "trickle":
        for i in range(len(body)):
            conn.send_data(sid, body[i:i + 1], end_stream=i == len(body) - 1)
            s.sendall(conn.data_to_send())
            time.sleep(0.005)
        return
    # Flow control: send as the window allows (the huge body needs the
    # client's WINDOW_UPDATEs, which the reading loop processes).
    while body:
        room = min(conn.local_flow_control_window(sid),
                   conn.max_outbound_frame_size)
        if room <= 0:
            s.sendall(conn.data_to_send())
            data = s.recv(65535)
            if not data:
                return
            conn.receive_data(data)
            continue
        chunk, body = body[:room], body[room:]
        conn.send_data(sid, chunk, end_stream=not body)
    s.sendall(conn.data_to_send())


def accept_loop(ls, ctx, mode, serve):
    while True:
        try:
            c, _ = ls.accept()
        except OSError:
            return
        threading.Thread(target=handshake_then, args=(c, ctx, mode, serve),
                         daemon=True).start()


def handshake_then(c, ctx, mode, serve):
    if mode == "notls":
        try:
            c.recv(4096)
            c.sendall(b"HTTP/1.0 400 this is not TLS\r\n\r\n")
        except OSError:
            pass
        c.close()
        return
    try:
        s = ctx.wrap_socket(c, server_side=True)
    except (OSError, ssl.SSLError):
        c.close()
        return
    serve(s, mode)


def listen(addr, port):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, port))
    s.listen(64)
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--mode", default="ok")
    ap.add_argument("--dot-port", type=int, default=0)
    ap.add_argument("--doh-port", type=int, default=0)
    a = ap.parse_args()
    ports = []
    socks = []
    for alpn, port, serve in (("dot", a.dot_port, serve_dot),
                              ("h2", a.doh_port, serve_doh)):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)
        ctx.set_alpn_protocols([alpn])
        s4 = listen("127.0.0.1", port)
        port = s4.getsockname()[1]
        s6 = listen("::1", port)
        for ls in (s4, s6):
            socks.append(ls)
            threading.Thread(target=accept_loop,
                             args=(ls, ctx, a.mode, serve),
                             daemon=True).start()
        ports.append(port)
    print("READY %d %d" % tuple(ports), flush=True)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    while True:
        r, _, _ = select.select([sys.stdin], [], [])
        if not sys.stdin.buffer.read1(4096):
            os._exit(0)


if __name__ == "__main__":
    main()
