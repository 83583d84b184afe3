#!/usr/bin/env python3
"""Send every RFC 4475 torture message to a running server over UDP and
check its answer against the manifest (tests/integ/sip_rfc4475.sh runs it).

Responses to a UDP request go to the source address and the port of the
top Via's sent-by (RFC 3261 section 18.2.2), so the client binds to that
port on a loopback address of its own.

Some messages share a Via branch, sent-by and method with an earlier one:
to the server they are retransmissions of the same transaction (RFC 3261
section 17.2.3) until it ends (Timer J, 64*T1). Before such a message the
client waits JWAIT seconds (run the server with a short T1).

usage: sip_rfc4475.py TESTDATA_DIR SERVER_HOST SERVER_PORT CLIENT_HOST JWAIT
"""
import csv
import os
import re
import socket
import sys
import time

# What a server must answer (final status codes), or None for silence.
# RFC 4475 and the manifest's "expected_behaviour" column.
EXPECT = {
    "wsinv": "ok", "intmeth": {501}, "esc01": "ok", "escnull": {401},
    "esc02": {501}, "lwsdisp": {200}, "longreq": "ok", "dblreq": {401},
    "semiuri": {200}, "transports": {200}, "mpart01": {501, 415},
    "unreason": None, "noreason": None,
    # The top Via does not parse: no response can be routed (RFC 3261
    # section 18.2.2), so the server drops it; likewise a request without
    # Call-ID, From and To cannot be answered.
    "badinv01": {400, None}, "clerr": {400}, "ncl": {400}, "scalar02": {400},
    "scalarlg": None, "quotbal": {400}, "ltgtruri": {400},
    "lwsruri": {400}, "lwsstart": {400}, "trws": {400},
    # baddate is an INVITE: with call control on, a caller that is not
    # registered from where it sends is refused 403 (formerly 480).
    "escruri": {400}, "baddate": {400, 403, 480}, "regbadct": {400, 401},
    "badaspec": {400}, "baddn": {400}, "badvers": {505},
    "mismatch01": {400}, "mismatch02": {400, 501}, "bigcode": None,
    "badbranch": {400, 200}, "insuf": {400, None}, "unkscm": {416},
    "novelsc": {416}, "unksm2": {401, 403, 404}, "bext01": {420},
    "invut": {415}, "regaut01": {401}, "multi01": {400}, "mcl01": {400},
    "bcast": None, "zeromf": {200, 483}, "cparam01": {401},
    "cparam02": {401}, "regescrt": {401}, "sdp01": {406},
    "inv2543": "ok",
}

VIA = re.compile(rb"^(?:via|v)[ \t]*:[ \t]*SIP[ \t]*/[ \t]*[0-9.]+[ \t]*/"
                 rb"[ \t]*[A-Za-z]+[ \t]+([^;, \t\r\n]+)",
                 re.IGNORECASE | re.MULTILINE)


def via_port(data):
    m = VIA.search(data)
    if not m:
        return 5060
    hostport = m.group(1)
    if hostport.startswith(b"["):
        end = hostport.find(b"]")
        rest = hostport[end + 1:] if end >= 0 else b""
        return int(rest[1:]) if rest.startswith(b":") else 5060
    if b":" in hostport:
        try:
            return int(hostport.rsplit(b":", 1)[1])
        except ValueError:
            return 5060
    return 5060


CALL_ID = re.compile(rb"^(?:call-id|i)[ \t]*:[ \t]*([^\r\n]*?)[ \t]*\r?$",
                     re.IGNORECASE | re.MULTILINE)


def call_id(data):
    m = CALL_ID.search(data)
    return m.group(1) if m else None


def ack_for(request, response):
    """RFC 3261 section 17.1.1.3: the ACK to a non-2xx final response, so
    that the server stops retransmitting it (Timer G)."""
    ruri = request.split(b"\r\n", 1)[0].split(b" ")[1]
    keep = []
    for line in response.split(b"\r\n")[1:]:
        name = line.split(b":", 1)[0].strip().lower()
        if name in (b"via", b"v", b"from", b"f", b"to", b"t", b"call-id",
                    b"i"):
            keep.append(line)
        elif name == b"cseq":
            keep.append(b"CSeq: " + line.split(b":", 1)[1].split()[0] +
                        b" ACK")
    return (b"ACK " + ruri + b" SIP/2.0\r\n" + b"\r\n".join(keep) +
            b"\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")


def final_status(sock, wait, request, server):
    """The first final status to this request (same Call-ID) received
    within wait seconds, or None."""
    want_id = call_id(request)
    deadline = time.monotonic() + wait
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        sock.settimeout(left)
        try:
            data, _ = sock.recvfrom(65535)
        except socket.timeout:
            return None
        m = re.match(rb"SIP/2\.0 (\d{3}) ", data)
        if not m or data.startswith(b"SIP/2.0 1"):
            continue
        if call_id(data) != want_id:
            continue  # a late retransmission for an earlier message
        if request.startswith(b"INVITE ") and data[8:9] != b"2":
            sock.sendto(ack_for(request, data), server)
        return int(m.group(1))


BRANCH = re.compile(rb"branch=([^;, \t\r\n]*)", re.IGNORECASE)


def tsx_key(data):
    m = VIA.search(data)
    b = BRANCH.search(data[m.start():]) if m else None
    return (data.split(b" ", 1)[0], m.group(1) if m else None,
            b.group(1) if b else None)


def main():
    tdir, host, port, client = sys.argv[1], sys.argv[2], int(sys.argv[3]), \
        sys.argv[4]
    jwait = float(sys.argv[5])
    seen = {}
    passed = failed = 0
    with open(os.path.join(tdir, "manifest.tsv"), newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    for row in rows:
        name = row["name"]
        want = EXPECT.get(name, "missing")
        with open(os.path.join(tdir, row["file"]), "rb") as f:
            data = f.read()
        key = tsx_key(data)
        if key in seen:
            time.sleep(max(0.0, seen[key] + jwait - time.monotonic()))
        seen[key] = time.monotonic()
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((client, via_port(data)))
        s.sendto(data, (host, port))
        quiet = want is None or (isinstance(want, set) and None in want)
        got = final_status(s, 0.6 if quiet else 3.0, data,
                           (host, port))
        s.close()
        if want == "ok":
            ok = got is not None and got != 400
        elif want is None or (None in want and got is None):
            ok = got is None
        elif want == "missing":
            ok = False
        else:
            ok = got in want
        print("%s: %s (%s) answered %s, expected %s" % (
            "ok" if ok else "not ok", name, row["class"],
            got if got is not None else "nothing",
            "no answer" if want is None else
            ("any but 400" if want == "ok" else
             sorted(want, key=lambda x: -1 if x is None else x)
             if isinstance(want, set) else want)))
        passed += ok
        failed += not ok
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
