#!/usr/bin/python3
"""Seeds for fuzz_doh (tests/fuzz/corpus/doh/*.bin): what a DoH server
sends to a client that opened streams 1 (example.test SOA IN) and 3
(hostname.bind TXT CH), made with python3-h2 and liar_tls.py's answers.
Run it again after changing the seeds' list; the .bin files are committed.
"""
import os, sys, struct
HERE = os.path.dirname(os.path.abspath(__file__))
import importlib.util
spec = importlib.util.spec_from_file_location("liar", os.path.join(HERE, "../lib/liar_tls.py"))
liar = importlib.util.module_from_spec(spec); spec.loader.exec_module(liar)
import h2.connection, h2.config
def q(name, qtype=6, qclass=1):
    wire = b"\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x01"
    for l in name.split('.'):
        wire += bytes([len(l)]) + l.encode()
    wire += b"\x00" + struct.pack("!HH", qtype, qclass)
    wire += b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x04\x00\x03\x00\x00"
    return wire
def server(events):
    c = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False))
    cl = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True))
    cl.initiate_connection()
    for sid in (1, 3):
        cl.send_headers(sid, [(':method','POST'),(':scheme','https'),(':authority','x'),(':path','/dns-query')])
        cl.send_data(sid, b'x', end_stream=True)
    c.initiate_connection()
    c.receive_data(cl.data_to_send())
    out = c.data_to_send()
    for ev in events:
        out += ev(c)
    return out
ct = ('content-type', 'application/dns-message')
def ok(sid, name='example.test', qtype=6, qclass=1):
    def f(c):
        body = liar.answer(q(name, qtype, qclass))
        c.send_headers(sid, [(':status','200'), ct, ('content-length', str(len(body)))])
        c.send_data(sid, body, end_stream=True)
        return c.data_to_send()
    return f
def status(sid, st):
    def f(c):
        c.send_headers(sid, [(':status',st)], end_stream=True); return c.data_to_send()
    return f
def reset(sid):
    def f(c):
        c.reset_stream(sid, 2); return c.data_to_send()
    return f
def goaway(c):
    c.close_connection(0, last_stream_id=1); return c.data_to_send()
seeds = {
 'ok-two': [ok(1), ok(3, 'hostname.bind', 16, 3)],
 'status-503': [status(1, '503'), ok(3, 'hostname.bind', 16, 3)],
 'reset': [reset(1), ok(3, 'hostname.bind', 16, 3)],
 'goaway': [ok(1), goaway],
 'wrong-question': [ok(1, 'other.test'), ok(3)],
}
for n, evs in seeds.items():
    open(os.path.join(HERE, 'corpus/doh/%s.bin' % n), 'wb').write(server(evs))
