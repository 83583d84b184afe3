"""Counts the UDP datagrams on the loopback interface for the end-to-end
tests (AF_PACKET: root only): RTP packets, SRTP- and plain-sized payloads,
payloads holding the G.711 u-law bytes of the phones' 1 kHz test tone, and
SDP carrying a=crypto in clear.

    lo_tap.py OUT STOP [SECONDS]

Writes OUT.ready once listening; stops when the file STOP appears or after
SECONDS (default 60), then writes the counts to OUT as JSON."""
import json
import math
import os
import socket
import sys
import time

out, stop = sys.argv[1], sys.argv[2]
seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 60.0


def ulaw(s):
    sign = 0x80 if s < 0 else 0
    s = min(abs(s), 32635) + 0x84
    e, m = 7, 0x4000
    while not (s & m) and e > 0:
        e -= 1
        m >>= 1
    return ~(sign | (e << 4) | ((s >> (e + 3)) & 0x0F)) & 0xFF


# media_session_send_tone(1000 Hz, amplitude 8000): period 8 samples
period = bytes(ulaw(int(round(8000 * math.sin(2 * math.pi * k / 8))))
               for k in range(8))
pats = [(period * 2)[i:i + 8] for i in range(8)]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind(("lo", 0))
s.settimeout(0.2)
res = {"udp": 0, "rtp": 0, "srtp_len": 0, "plain_len": 0, "tone": 0,
       "crypto": 0}
open(out + ".ready", "w").close()
end = time.time() + seconds
while not os.path.exists(stop) and time.time() < end:
    try:
        f = s.recv(65535)
    except socket.timeout:
        continue
    if len(f) < 34 or f[12:14] != b"\x08\x00" or f[23] != 17:
        continue
    ihl = (f[14] & 15) * 4
    u = f[14 + ihl + 8:]
    res["udp"] += 1
    if b"a=crypto" in u:
        res["crypto"] += 1
    if len(u) >= 12 and u[0] == 0x80 and (u[1] & 0x7f) in (0, 8):
        res["rtp"] += 1
        n = len(u) - 12
        if n in (170, 176):
            res["srtp_len"] += 1
        if n == 160:
            res["plain_len"] += 1
        if any(p in u[12:] for p in pats):
            res["tone"] += 1
json.dump(res, open(out, "w"))
