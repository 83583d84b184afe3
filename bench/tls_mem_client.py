#!/usr/bin/env python3
"""Memory benchmark client: N phones, each on its own TLS connection from
its own loopback source address (127.1.x.y), each registering one line
with digest MD5 (REGISTER, 401, REGISTER with credentials, 200), all kept
open until stdin closes or the time limit passes.

  tls_mem_client.py HOST PORT CA CERT KEY FIRST_DN N PASSWORD_PREFIX SECS

Phone i registers line FIRST_DN + i // 8 (the registrar keeps up to 8
contacts per line), whose password is PASSWORD_PREFIX + its DN. Prints
"registered K failed F" once every phone has finished, then waits."""
import asyncio, hashlib, os, re, ssl, sys, time

host, port, ca, cert, key = sys.argv[1:6]
first, n, prefix, secs = int(sys.argv[6]), int(sys.argv[7]), sys.argv[8], float(sys.argv[9])
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
ctx.load_cert_chain(cert, key)
keep = []


async def read_msg(r):
    head = await r.readuntil(b"\r\n\r\n")
    m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    if m and int(m.group(1)):
        await r.readexactly(int(m.group(1)))
    return head.decode("latin-1")


def register(dn, local, cseq, auth=""):
    uri = "sip:%s:%s" % (host, port)
    return ("REGISTER %s SIP/2.0\r\nVia: SIP/2.0/TLS %s;branch=z9hG4bKm%d-%d\r\n"
            "Max-Forwards: 70\r\nFrom: <sip:%s@%s>;tag=m%d\r\nTo: <sip:%s@%s>\r\n"
            "Call-ID: mem-%s\r\nCSeq: %d REGISTER\r\n"
            "Contact: <sip:%s@%s;transport=tls>\r\nExpires: 3600\r\n%s"
            "Content-Length: 0\r\n\r\n" % (uri, local, dn, cseq, dn, host, dn, dn,
            host, local, cseq, dn, local, auth)).encode()


async def phone(i, sem):
    dn = first + i // 8
    src = "127.1.%d.%d" % ((i // 250) % 250, i % 250 + 1)
    async with sem:
        try:
            r, w = await asyncio.wait_for(asyncio.open_connection(
                host, int(port), ssl=ctx, local_addr=(src, 0)), 20)
            local = "%s:%d" % w.get_extra_info("sockname")[:2]
            w.write(register(dn, local, 1))
            resp = await asyncio.wait_for(read_msg(r), 20)
            if " 401 " in resp.split("\r\n")[0]:
                ch = [l for l in resp.split("\r\n")
                      if l.lower().startswith("www-authenticate:") and "MD5" in l.upper()][0]
                f = dict(re.findall(r'(\w+)="?([^",]*)"?', ch.split(":", 1)[1]))
                uri = "sip:%s:%s" % (host, port)
                ha1 = hashlib.md5(("%d:%s:%s%d" % (dn, f["realm"], prefix, dn)).encode()).hexdigest()
                ha2 = hashlib.md5(("REGISTER:%s" % uri).encode()).hexdigest()
                cn = "%08x" % i
                rsp = hashlib.md5(("%s:%s:00000001:%s:auth:%s" % (ha1, f["nonce"], cn, ha2)).encode()).hexdigest()
                a = ('Authorization: Digest username="%d", realm="%s", nonce="%s", uri="%s", '
                     'response="%s", algorithm=MD5, qop=auth, nc=00000001, cnonce="%s"%s\r\n'
                     % (dn, f["realm"], f["nonce"], uri, rsp, cn,
                        ', opaque="%s"' % f["opaque"] if "opaque" in f else ""))
                w.write(register(dn, local, 2, a))
                resp = await asyncio.wait_for(read_msg(r), 20)
            ok = " 200 " in resp.split("\r\n")[0]
            keep.append(w)
            return ok
        except Exception as e:
            print("phone %d: %r" % (i, e), file=sys.stderr)
            return False


async def main():
    sem = asyncio.Semaphore(64)
    res = await asyncio.gather(*(phone(i, sem) for i in range(n)))
    ok = sum(1 for x in res if x)
    print("registered %d failed %d" % (ok, n - ok), flush=True)
    loop = asyncio.get_running_loop()
    end = time.time() + secs
    while time.time() < end:
        await asyncio.sleep(0.5)
        if os.path.exists(sys.argv[10] if len(sys.argv) > 10 else "/nonexistent-stop"):
            break
    for w in keep:
        w.close()

asyncio.run(main())
