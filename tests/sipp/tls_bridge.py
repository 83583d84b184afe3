#!/usr/bin/env python3
# A phone over TLS for the call tests and benchmark (tests/integ/cm_calls.sh,
# bench/calls.sh): registers on its own
# TLS connection with a client certificate (digest MD5 when challenged),
# then relays that connection to a SIPp UAS listening on TCP, so that
# calls come back on the connection the phone registered on (SIPp has no
# TLS, and a SIPp UAS cannot register first).
#   calls_bridge.py HOST PORT CA CERT KEY DN PASSWORD UAS_TCP_PORT
import hashlib, os, re, select, socket, ssl, sys, time
host, port, ca, cert, key, dn, pw, uas = sys.argv[1:9]
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
ctx.load_cert_chain(cert, key)
s = ctx.wrap_socket(socket.create_connection((host, int(port)), timeout=10))
buf = b""
def read_msg():
    global buf
    while True:
        h = buf.find(b"\r\n\r\n")
        if h >= 0:
            m = re.search(rb"(?im)^content-length:\s*(\d+)", buf[:h])
            n = h + 4 + (int(m.group(1)) if m else 0)
            if len(buf) >= n:
                msg, buf = buf[:n], buf[n:]
                return msg.decode("latin-1")
        d = s.recv(65536)
        if not d:
            sys.exit("closed")
        buf += d
def register(cseq, auth=""):
    uri = "sip:%s:%s" % (host, port)
    s.sendall(("REGISTER %s SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:%s;branch=z9hG4bK%d%s\r\n"
        "Max-Forwards: 70\r\nFrom: <sip:%s@%s>;tag=b%s\r\nTo: <sip:%s@%s>\r\n"
        "Call-ID: bridge-%s\r\nCSeq: %d REGISTER\r\n"
        "Contact: <sip:%s@127.0.0.1:%s;transport=tls>\r\nExpires: 3600\r\n%s"
        "Content-Length: 0\r\n\r\n" % (uri, uas, cseq, dn, dn, host, dn, dn, host,
        dn, cseq, dn, uas, auth)).encode())
    return read_msg()
r = register(1)
if " 401 " in r.split("\r\n")[0]:
    ch = [l for l in r.split("\r\n") if l.lower().startswith("www-authenticate:")
          and "MD5" in l.upper()][0]
    f = dict(re.findall(r'(\w+)="?([^",]*)"?', ch.split(":", 1)[1]))
    uri = "sip:%s:%s" % (host, port)
    ha1 = hashlib.md5(("%s:%s:%s" % (dn, f["realm"], pw)).encode()).hexdigest()
    ha2 = hashlib.md5(("REGISTER:%s" % uri).encode()).hexdigest()
    cn = "0a4f113b"
    resp = hashlib.md5(("%s:%s:00000001:%s:auth:%s" % (ha1, f["nonce"], cn, ha2)).encode()).hexdigest()
    a = ('Authorization: Digest username="%s", realm="%s", nonce="%s", uri="%s", '
         'response="%s", algorithm=MD5, qop=auth, nc=00000001, cnonce="%s"%s\r\n'
         % (dn, f["realm"], f["nonce"], uri, resp, cn,
            ', opaque="%s"' % f["opaque"] if "opaque" in f else ""))
    r = register(2, a)
if " 200 " not in r.split("\r\n")[0]:
    sys.exit("register failed: " + r.split("\r\n")[0])
print("registered", flush=True)
t = socket.create_connection(("127.0.0.1", int(uas)), timeout=10)
if buf:
    t.sendall(buf)
end = time.time() + float(os.environ.get("BRIDGE_SECS", "60"))
while time.time() < end:
    r, _, _ = select.select([s, t], [], [], 1)
    for x in r:
        d = x.recv(65536)
        if not d:
            sys.exit(0)
        (t if x is s else s).sendall(d)
