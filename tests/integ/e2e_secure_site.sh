#!/usr/bin/env bash
# The secure site end to end, with real processes on loopback: `trustline
# serve` and phone agents (`trustline phone`) that boot through TFTP ->
# CTL -> signed config -> CAPF -> TLS registration.
#  1. Full boot of two encrypted phones (CAPF install with an auth string
#     and with none; LSC; encrypted config) and a nonsecure one.
#  2. An encrypted call 1001 -> 1002 carrying a 1 kHz tone: both phones
#     show "encrypted", the callee's recorded WAV holds the tone (Goertzel),
#     and a tap on the loopback interface sees SRTP-sized packets and never
#     the tone's G.711 bytes.
#  3. A nonsecure phone calling an encrypted one: both show nonsecure, no
#     a=crypto leaves in clear (tap), and the tone's G.711 bytes do appear
#     in clear (which proves the tap would have seen them in 2).
#  4. Refusals, each leaving the phone unregistered with a clear status and
#     no partial state: tampered CTL, CTL update signed by an unlisted key,
#     tampered config, tampered firmware (the old image kept), wrong CAPF
#     auth string, revoked LSC, server certificate not in the CTL.
set -u
# Scratch space beside the build when run from ctest.
if [ -n "${TL_BUILD:-}" ]; then
	mkdir -p "$TL_BUILD/tmp" && export TMPDIR=$TL_BUILD/tmp
fi
. "$(dirname "$0")/lib.sh"
tl_deadline 420

T=${TL_BIN:?TL_BIN is the trustline binary}
D=$(tl_tmpdir)
P=$(tl_free_port 39500 7 150) || tl_fail "no free ports"
Q=$(tl_free_port 39700 7 150) || tl_fail "no free ports for site B"
R=$(tl_free_port 39900 2 90) || tl_fail "no free port for the rogue TFTP"
site=$D/site
siteb=$D/siteb
tftp=127.0.0.1:$((P + 2))
command -v python3 >/dev/null || tl_fail "python3 needed"

"$T" init --site "$site" --base-port "$P" >"$D/init.log" 2>&1 ||
	tl_fail "init failed: $(tail -3 "$D/init.log")"
"$T" init --site "$siteb" --base-port "$Q" >"$D/initb.log" 2>&1 ||
	tl_fail "init B failed: $(tail -3 "$D/initb.log")"
add() { # mac profile dn
	"$T" device add --site "$site" --mac "$1" --profile "$2" >/dev/null ||
		tl_fail "device add $1"
	"$T" line add --site "$site" --dn "$3" --device "$1" \
		--password "pw$3secret" >/dev/null || tl_fail "line add $3"
}
add 00000000E001 encrypted 1001
add 00000000E002 encrypted 1002
add 00000000E003 nonsecure 1003
add 00000000E004 nonsecure 1004 # firmware
add 00000000E005 encrypted 1005 # wrong CAPF string
add 00000000E006 encrypted 1006 # server not in the CTL (MIC)
"$T" profile add authinv --mode nonsecure --auth-invite on --site "$site" \
	>/dev/null || tl_fail "profile add"
add 00000000E007 authinv 1007 # Auth INVITE (seed 001)
"$T" capf set --site "$site" --device SEP00000000E001 --op install \
	--auth string --string 4711081 >/dev/null || tl_fail "capf set 1"
"$T" capf set --site "$site" --device SEP00000000E002 --op install \
	--auth null >/dev/null || tl_fail "capf set 2"
"$T" capf set --site "$site" --device SEP00000000E005 --op install \
	--auth string --string 1234567 >/dev/null || tl_fail "capf set 5"
"$T" cluster mode mixed --site "$site" >/dev/null || tl_fail "cluster mode"

tl_start serve "$T" serve --site "$site"
tl_wait_port tcp 127.0.0.1 $((P + 1)) 20 || tl_fail "serve: no TLS port"
tl_wait_port udp 127.0.0.1 $((P + 2)) 20 || tl_fail "serve: no TFTP"
tl_wait_port tcp 127.0.0.1 $((P + 4)) 20 || tl_fail "serve: no CAPF"

# phone NAME MAC DN [options]: a phone agent in $D/NAME
phone() {
	local name=$1 mac=$2 dn=$3
	local pw=(--password "pw${dn}secret")
	shift 3
	# NOPW=1: the password must come from the encrypted config
	[ "${NOPW:-0}" = 1 ] && pw=()
	tl_start "$name" "$T" phone --mac "$mac" --tftp "${TFTP:-$tftp}" \
		--state "$D/$name" "${pw[@]}" "$@"
}
ctl() { "$T" phone ctl "$D/$1/ctl.sock" "${@:2}"; }
js() { tl_phone_js "$D/$1/ctl.sock" "$2"; } # phone, expression on `s`
wait_js() { tl_phone_wait_js "$D/$1/ctl.sock" "${@:2}"; } # phone, expr, value, s

# ---- 1. boot ----
# The encrypted phones get their line passwords from their encrypted
# configs only (sealed copies under pki/secrets.key on the server).
NOPW=1 phone p1 00000000E001 1001 --auth-string 4711081 --tone 1000 \
	--record "$D/p1.wav"
NOPW=1 phone p2 00000000E002 1002 --auto-answer --record "$D/p2.wav" --gcm
phone p3 00000000E003 1003 --tone 1000
for p in p1 p2 p3; do
	wait_js $p "s['state']" registered 30 ||
		tl_fail "$p did not register: $(ctl $p status 2>&1 | head -3)"
done
tl_pass "three phones registered"
tl_assert_eq "LSC installed" "$(js p1 "s['boot']['capf']['detail']")" \
	"1001: CAPF install with the auth string"
tl_assert_eq "LSC installed" "$(js p2 "s['boot']['capf']['detail']")" \
	"1002: CAPF install with the null string"
tl_check "1001: the config came encrypted to its LSC" \
	grep -q "encrypted config" <<<"$(js p1 "s['boot']['config']['detail']")"
tl_assert_eq "TLS TLS UDP" "$(js p1 "s['transport']") $(js p2 \
	"s['transport']") $(js p3 "s['transport']")" \
	"encrypted phones on TLS, the nonsecure one on UDP"
tl_check "the LSC is on the phone's flash, key 0600" \
	bash -c "[ -f '$D/p1/lsc.crt' ] && [ \$(stat -c %a '$D/p1/lsc.key') = 600 ]"
tl_check "the site's secrets key is 0600" \
	test "$(stat -c %a "$site/pki/secrets.key")" = 600
for f in "$D/p1/config.xml" "$site/trustline.db"; do
	tl_check "no line password in clear in $(basename "$f")" \
		bash -c "! grep -q pw1001secret '$f'"
done
tl_check "status as text names the line" \
	bash -c "'$T' phone ctl '$D/p1/ctl.sock' status | grep -q 'line 1001 registered'"

# ---- the tap: every UDP datagram on lo (lo_tap.py; AF_PACKET needs root) ----
tap_ok=false
[ "$(id -u)" = 0 ] && tap_ok=true
tap_start() { # name
	rm -f "$D/$1.stop" "$D/$1.json" "$D/$1.json.ready"
	tl_start "tap-$1" python3 "$TL_SRC/tests/integ/lo_tap.py" \
		"$D/$1.json" "$D/$1.stop" 60
	for _ in $(seq 50); do
		[ -f "$D/$1.json.ready" ] && return 0
		sleep 0.1
	done
	return 1
}
tap_stop() { # name
	touch "$D/$1.stop"
	for _ in $(seq 30); do
		[ -f "$D/$1.json" ] && break
		sleep 0.1
	done
	tl_stop "tap-$1" >/dev/null 2>&1 || true
}
tap() { python3 -c "import json; print(json.load(open('$D/$1.json'))['$2'])"; }
if $tap_ok && ! tap_start enc; then
	tap_ok=false
fi

# ---- 2. encrypted call with a tone ----
tl_check "1001 dials 1002" ctl p1 dial 1002
wait_js p2 "s['call'].get('tone_detected')" True 10 ||
	tl_check_fail "1002 did not hear the tone"
sleep 1
tl_assert_eq "encrypted encrypted" "$(js p1 "s['call']['security']") $(js \
	p2 "s['call']['security']")" "both phones show the call encrypted"
tl_assert_eq "True True" "$(js p1 "s['call']['srtp']") $(js p2 \
	"s['call']['srtp']")" "SRTP negotiated on both"
tl_assert_eq "0" "$(js p2 "s['call']['srtp_auth_fail']")" \
	"no SRTP packet failed authentication"
tl_check "DTMF 1001 -> 1002" ctl p1 dtmf 42#
sleep 1
tl_assert_eq "42#" "$(js p2 "s['call']['dtmf']")" "1002 received the digits"
tl_check "hold" ctl p1 hold
sleep 0.5
tl_assert_eq "True" "$(js p2 "s['call']['remote_held']")" "1002 sees the hold"
tl_check "resume" ctl p1 resume
sleep 0.5
tl_assert_eq "encrypted" "$(js p2 "s['call']['security']")" \
	"encrypted again after resume"
tl_check "1001 hangs up" ctl p1 hangup
wait_js p2 "s['call']['state']" ended 5 || tl_check_fail "1002 saw no BYE"
if $tap_ok; then
	tap_stop enc
	tl_check "tap: SRTP-sized packets on the wire ($(tap enc srtp_len))" \
		test "$(tap enc srtp_len)" -gt 50
	tl_assert_eq 0 "$(tap enc tone)" \
		"tap: the tone's G.711 bytes never appear in the encrypted call"
	tl_assert_eq 0 "$(tap enc plain_len)" "tap: no plain 160-byte RTP"
else
	echo "SKIP: the tap needs root (AF_PACKET); wire checks skipped"
fi
sleep 0.3
cat >"$D/goertzel.py" <<'PY'
import math, struct, sys, wave
w = wave.open(sys.argv[1]); n = w.getnframes()
x = struct.unpack("<%dh" % n, w.readframes(n))
x = x[n // 4: n // 4 + 8000] if n > 12000 else x
k = 2 * math.cos(2 * math.pi * float(sys.argv[2]) / 8000); a = b = 0.0
for v in x:
    a, b = v + k * a - b, a
e = sum(v * v for v in x) or 1
print("%.2f" % ((a * a + b * b - k * a * b) * 2 / (len(x) * e)))
PY
share=$(python3 "$D/goertzel.py" "$D/p2.wav" 1000 2>/dev/null || echo 0)
tl_check "the received WAV holds the 1 kHz tone (share $share)" \
	python3 -c "import sys; sys.exit(0 if $share >= 0.8 else 1)"
share5=$(python3 "$D/goertzel.py" "$D/p2.wav" 500 2>/dev/null || echo 1)
tl_check "and not a 500 Hz one (share $share5)" \
	python3 -c "import sys; sys.exit(0 if $share5 < 0.1 else 1)"

tl_assert_eq "AES_CM_128_HMAC_SHA1_80" "$(js p2 "s['call']['srtp_suite']")" \
	"the suite 1001 offered first"

# ---- 2b. 1002 -> 1001 with AEAD_AES_128_GCM offered first (RFC 7714) ----
tl_check "1002 dials 1001" ctl p2 dial 1001
wait_js p1 "s['call']['state']" ringing 10 || tl_check_fail "1001 not ringing"
tl_check "1001 answers" ctl p1 answer
wait_js p2 "s['call'].get('tone_detected')" True 10 ||
	tl_check_fail "1002 did not hear 1001's tone over GCM"
tl_assert_eq "AEAD_AES_128_GCM AEAD_AES_128_GCM encrypted" \
	"$(js p1 "s['call']['srtp_suite']") $(js p2 "s['call']['srtp_suite']") $(js \
		p2 "s['call']['security']")" "GCM negotiated, call encrypted"
tl_check "1002 hangs up" ctl p2 hangup
wait_js p1 "s['call']['state']" ended 5 || tl_check_fail "1001 saw no BYE"

# ---- 3. nonsecure -> encrypted ----
$tap_ok && { tap_start plain || tap_ok=false; }
tl_check "1003 dials 1001" ctl p3 dial 1001
wait_js p1 "s['call']['state']" ringing 10 || tl_check_fail "1001 not ringing"
tl_check "1001 answers" ctl p1 answer
wait_js p1 "s['call'].get('tone_detected')" True 10 ||
	tl_check_fail "1001 did not hear 1003"
tl_assert_eq "nonsecure nonsecure" "$(js p3 "s['call']['security']") $(js \
	p1 "s['call']['security']")" "both phones show the call nonsecure"
tl_assert_eq "False False" "$(js p3 "s['call']['srtp']") $(js p1 \
	"s['call']['srtp']")" "plain RTP"
tl_check "1003 hangs up" ctl p3 hangup
if $tap_ok; then
	tap_stop plain
	tl_assert_eq 0 "$(tap plain crypto)" "tap: no a=crypto sent in clear"
	tl_check "tap: the tone's G.711 bytes are seen in plain RTP ($(tap \
		plain tone) packets): the tap works" test "$(tap plain tone)" -gt 10
fi
wait_js p1 "s['call']['state']" ended 5 || tl_check_fail "1001 saw no BYE"

# ---- Auth INVITE (seed 001): the phone challenges the INVITE, the call
#      manager answers with the line's credentials, anything else fails ----
phone p7 00000000E007 1007 --auto-answer
wait_js p7 "s['state']" registered 20 || tl_fail "1007 did not register"
# Auth MWI: the first NOTIFY of its message-summary subscription
wait_js p7 "s['auth_accepted']" 1 10 ||
	tl_check_fail "1007: the first MWI NOTIFY was not authenticated"
"$T" mwi set 1007 --new 2 --old 5 --site "$site" >/dev/null ||
	tl_fail "mwi set"
wait_js p7 "s['mwi_new']" 2 10 || tl_check_fail "1007: no MWI NOTIFY"
tl_assert_eq "True 2 5 2 2" "$(js p7 "s['mwi'], s['mwi_new'], s['mwi_old'], \
	s['auth_challenges'], s['auth_accepted']" | tr -d '(),')" \
	"1007: message waiting, each NOTIFY challenged and then accepted"
tl_check "1003 dials 1007" ctl p3 dial 1007
wait_js p7 "s['call']['state']" active 10 || tl_check_fail "1007 not in call"
tl_assert_eq "3 3" "$(js p7 "s['auth_challenges']") $(js p7 \
	"s['auth_accepted']")" "1007 challenged the INVITE once and accepted it"
tl_check "1003 hangs up" ctl p3 hangup
wait_js p7 "s['call']['state']" ended 5 || tl_check_fail "1007 saw no BYE"
sport=$(js p7 "s['sip_port']")
cat >"$D/inv.py" <<'PY'
import re, socket, sys
port, user = int(sys.argv[1]), sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)
s.bind(("127.0.0.1", 0)); me = s.getsockname()[1]
def invite(n, auth):
    m = ("INVITE sip:1007@127.0.0.1:%d SIP/2.0\r\n"
         "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKrogue%d\r\n"
         "Max-Forwards: 70\r\nFrom: <sip:6666@127.0.0.1>;tag=r%d\r\n"
         "To: <sip:1007@127.0.0.1>\r\nCall-ID: rogue-%d\r\n"
         "CSeq: 1 INVITE\r\nContact: <sip:6666@127.0.0.1:%d>\r\n%s"
         "Content-Length: 0\r\n\r\n") % (port, me, n, n, n, me, auth)
    s.sendto(m.encode(), ("127.0.0.1", port))
    while True:
        r = s.recv(65535).decode("latin-1")
        code = int(r.split(" ", 2)[1])
        if code >= 200:
            return code, r
code, r = invite(1, "")
nonce = re.search(r'nonce="([^"]+)"', r)
realm = re.search(r'realm="([^"]+)"', r)
print(code, end=" ")
# the right user and realm, the answer of a wrong password
a = ('Authorization: Digest username="%s", realm="%s", nonce="%s", '
     'uri="sip:1007@127.0.0.1:%d", response="%s", algorithm=MD5\r\n'
     % (user, realm.group(1) if realm else "", nonce.group(1) if nonce
        else "", port, "0" * 32))
code, r = invite(2, a)
print(code)
PY
tl_assert_eq "401 401" "$(python3 "$D/inv.py" "$sport" 1007 2>&1)" \
	"an INVITE without, then with wrong credentials: 401 both times"
tl_assert_eq "idle" "$(js p7 "s['call']['state']" | sed 's/ended/idle/')" \
	"no call was set up by them"
tl_stop p7 >/dev/null 2>&1 || true

# ---- 4. refusals ----
boot_only() { # name mac [options]: exit status of a --boot-only boot
	local name=$1 mac=$2
	shift 2
	timeout 60 "$T" phone --mac "$mac" --tftp "${TFTP:-$tftp}" \
		--state "$D/$name" --boot-only --json "$@" \
		>"$D/$name.json" 2>"$D/$name.err"
}
field() { python3 -c "import json; s=json.load(open('$D/$1.json')); print($2)"; }

# a. tampered CTL (fresh phone): refused, nothing stored.
ctlf=$site/tftp/CTLFile.tlv
cp "$ctlf" "$D/ctl.good"
python3 - "$ctlf" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read()); b[-40] ^= 0x01
open(sys.argv[1], "wb").write(b)
PY
rc=0
boot_only ra 00000000E003 || rc=$?
tl_assert_eq 1 "$rc" "tampered CTL: boot refused"
tl_assert_eq "refused ctl failed" "$(field ra "s['state'], 'ctl', s['boot']['ctl']['state']" |
	tr -d "(),'")" "tampered CTL: status names the CTL step"
tl_check "tampered CTL: nothing stored" test ! -e "$D/ra/CTLFile.tlv"
tl_check "tampered CTL: no config applied" test ! -e "$D/ra/config.xml"
cp "$D/ctl.good" "$ctlf"

# b. CTL update signed by a SAST the phone's CTL does not list (site B's).
cp "$D/p3/CTLFile.tlv" "$D/p3.ctl.before"
cp "$siteb/tftp/CTLFile.tlv" "$ctlf"
mkdir -p "$D/rb" && cp "$D/p3/CTLFile.tlv" "$D/rb/CTLFile.tlv"
rc=0
boot_only rb 00000000E003 || rc=$?
tl_assert_eq 1 "$rc" "CTL update by an unlisted SAST: refused"
tl_check "the reason says so: $(field rb "s['reason']")" \
	grep -q "update refused" <<<"$(field rb "s['reason']")"
tl_check "the stored CTL is unchanged" cmp "$D/rb/CTLFile.tlv" \
	"$D/p3.ctl.before"
cp "$D/ctl.good" "$ctlf"

# c. tampered config from a rogue TFTP server (genuine CTL, config with one
#    byte changed after signing).
mkdir -p "$D/rogue"
cp "$D/ctl.good" "$D/rogue/CTLFile.tlv"
curl -sf --max-time 10 "tftp://$tftp/SEP00000000E003.cnf.xml.sgn" \
	-o "$D/rogue/SEP00000000E003.cnf.xml.sgn" || tl_fail "fetch config"
python3 - "$D/rogue/SEP00000000E003.cnf.xml.sgn" <<'PY'
import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read())
i = b.rfind(b"<sipPort>") + len(b"<sipPort>"); b[i] = ord("9")
open(p, "wb").write(b)
PY
tl_start rogue "$T" tftp serve --root "$D/rogue" --port "$R" --no-http \
	--address 127.0.0.1
tl_wait_port udp 127.0.0.1 "$R" 10 || tl_fail "rogue TFTP did not start"
rc=0
TFTP=127.0.0.1:$R boot_only rc 00000000E003 || rc=$?
tl_assert_eq 1 "$rc" "tampered config: refused"
tl_check "the reason names the config: $(field rc "s['reason']")" \
	grep -q "^config: .*does not verify" <<<"$(field rc "s['reason']")"
tl_check "tampered config: nothing applied" test ! -e "$D/rc/config.xml"

# d. firmware: a signed image is installed; a tampered one is refused and
#    the old one kept.
head -c 20000 /dev/urandom >"$D/fw-A.bin"
"$T" sign "$D/fw-A.bin" --site "$site" --out "$site/tftp/fwA.sgn" \
	>/dev/null || tl_fail "sign fwA"
"$T" sign "$D/fw-A.bin" --site "$site" --out "$site/tftp/fwB.sgn" \
	>/dev/null || tl_fail "sign fwB"
python3 - "$site/tftp/fwB.sgn" <<'PY'
import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[-100] ^= 0xff
open(p, "wb").write(b)
PY
"$T" device set 00000000E004 --site "$site" --load fwA >/dev/null ||
	tl_fail "device set --load"
sleep 1.5
rc=0
boot_only rd 00000000E004 --password pw1004secret || rc=$?
tl_assert_eq 0 "$rc" "signed image installed"
tl_check "the image is the signed content" cmp "$D/rd/firmware-fwA" \
	"$D/fw-A.bin"
"$T" device set 00000000E004 --site "$site" --load fwB >/dev/null ||
	tl_fail "device set --load fwB"
sleep 1.5
rc=0
boot_only rd 00000000E004 --password pw1004secret || rc=$?
tl_assert_eq 1 "$rc" "tampered image refused"
tl_check "the reason names the image: $(field rd "s['reason']")" \
	grep -q "firmware: image fwB.sgn refused.*keeping fwA" \
	<<<"$(field rd "s['reason']")"
tl_assert_eq fwA "$(cat "$D/rd/firmware.current")" "the old image is kept"
tl_check "no tampered image stored" test ! -e "$D/rd/firmware-fwB"

# e. wrong CAPF auth string: refused, no LSC.
rc=0
boot_only re 00000000E005 --auth-string 7654321 || rc=$?
tl_assert_eq 1 "$rc" "wrong CAPF auth string: refused"
tl_check "the reason names CAPF: $(field re "s['reason']")" \
	grep -q "^capf: .*refused our credentials" <<<"$(field re "s['reason']")"
tl_check "no LSC stored" test ! -e "$D/re/lsc.crt"
tl_assert_eq "" "$(field re "s['certificate']['kind']")" \
	"the phone holds no certificate"

# f. revoked LSC: 1002's LSC is revoked; the call manager refuses it.
serial=$(openssl x509 -in "$D/p2/lsc.crt" -noout -serial | cut -d= -f2 |
	tr 'A-F' 'a-f')
"$T" ca revoke --site "$site" --serial "$serial" --reason keyCompromise \
	>/dev/null || tl_fail "ca revoke"
"$T" ca crl --site "$site" >/dev/null || tl_fail "ca crl"
tl_stop p2 >/dev/null 2>&1 || true
tl_stop serve >/dev/null 2>&1 || true
tl_start serve2 "$T" serve --site "$site"
tl_wait_port tcp 127.0.0.1 $((P + 1)) 20 || tl_fail "serve did not restart"
tl_wait_port udp 127.0.0.1 $((P + 2)) 20 || tl_fail "serve: no TFTP"
mkdir -p "$D/p2b" && cp "$D/p2/"{CTLFile.tlv,lsc.crt,lsc.key} "$D/p2b/"
phone p2b 00000000E002 1002
wait_js p2b "s['state']" unregistered 30 ||
	tl_check_fail "revoked LSC: not reported unregistered ($(js p2b "s['state']"))"
tl_check "revoked LSC: the line is not registered: $(js p2b "s['reason']")" \
	grep -q "refused the TLS connection" <<<"$(js p2b "s['reason']")"

# g. the server's certificate is not in the CTL: a config signed by this
#    site's TFTP key that points the phone at site B's TLS port.
tl_start serveb "$T" serve --site "$siteb" --no-capf
tl_wait_port tcp 127.0.0.1 $((Q + 1)) 20 || tl_fail "site B: no TLS"
mkdir -p "$D/mic6"
"$T" mfg issue --site "$site" --mac 00000000E006 --out "$D/mic6" \
	>/dev/null || tl_fail "mfg issue"
"$T" device config 00000000E006 --site "$site" >"$D/e6.xml" ||
	tl_fail "device config"
sed -i "s|<securedSipPort>$((P + 1))</securedSipPort>|<securedSipPort>$((Q + 1))</securedSipPort>|; s|<capfAuthMode>[0-9]</capfAuthMode>|<capfAuthMode>0</capfAuthMode>|" \
	"$D/e6.xml"
"$T" sign "$D/e6.xml" --site "$site" \
	--out "$D/rogue/SEP00000000E006.cnf.xml.sgn" >/dev/null ||
	tl_fail "sign the config"
TFTP=127.0.0.1:$R phone pg 00000000E006 1006 --mic "$D/mic6/SEP00000000E006.crt" \
	--mic-key "$D/mic6/SEP00000000E006.key"
wait_js pg "s['state']" unregistered 30 ||
	tl_check_fail "server not in the CTL: not refused ($(js pg "s['state']"))"
tl_check "the reason: $(js pg "s['reason']")" \
	grep -q "not in the CTL" <<<"$(js pg "s['reason']")"
tl_assert_eq "MIC" "$(js pg "s['certificate']['kind']")" "it used its MIC"

# usage errors are one line, exit 2
rc=0
"$T" phone --mac zz --tftp 127.0.0.1:1 --state "$D/x" 2>"$D/usage.err" ||
	rc=$?
tl_assert_eq 2 "$rc" "bad MAC: usage error"
tl_assert_eq 1 "$(wc -l <"$D/usage.err")" "one line"
tl_check "phone --help" bash -c "'$T' phone --help >/dev/null"

for p in p1 p3 p2b pg; do
	rc=0
	tl_stop $p || rc=$?
	tl_assert_eq 0 "$rc" "$p exits 0 on SIGTERM"
done
tl_summary
