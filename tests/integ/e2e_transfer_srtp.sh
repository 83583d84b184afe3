#!/usr/bin/env bash
# An encrypted call survives a blind transfer, end to end with real
# processes on loopback: `trustline serve` and three encrypted phone
# agents (CAPF, encrypted config, TLS registration).
#  1. 1001 (sending a 1 kHz tone) calls 1002, which answers: encrypted.
#  2. 1002 transfers 1001 blind to 1003 (sending a 1.5 kHz tone), which
#     answers. The call manager has 1001 make a new offer with new keys
#     and gives it to 1003, whose answer (a new key) goes back to 1001.
#  3. After the transfer both 1001 and 1003 show the call encrypted, on
#     SRTP with the same suite; each hears the other's tone (status and
#     the recorded WAV files, Goertzel); 1003 saw no packet fail SRTP
#     authentication; both moved to keys that 1002 never saw.
#  4. A tap on the loopback interface (root only) sees SRTP-sized packets,
#     never the 1 kHz tone's G.711 bytes, and no a=crypto in clear.
#  5. Hold and resume on the new pair keep the audio going (an unchanged
#     re-offer keeps its keys).
#  6. The caller transfers: 1003 calls 1001 and sends it on to 1002;
#     1002 hears 1001, both show encrypted, no authentication failures.
set -u
if [ -n "${TL_BUILD:-}" ]; then
	mkdir -p "$TL_BUILD/tmp" && export TMPDIR=$TL_BUILD/tmp
fi
. "$(dirname "$0")/lib.sh"
tl_deadline 300

T=${TL_BIN:?TL_BIN is the trustline binary}
D=$(tl_tmpdir)
# Other work's connections may hold ports of the range for a while
# (TIME-WAIT): try again for up to a minute.
for _ in $(seq 60); do
	P=$(tl_free_port 39600 7 100 2>/dev/null) && break
	sleep 1
done
[ -n "${P:-}" ] || tl_fail "no 7 free ports in 39600-39699"
site=$D/site
tftp=127.0.0.1:$((P + 2))
command -v python3 >/dev/null || tl_fail "python3 needed"

"$T" init --site "$site" --base-port "$P" >"$D/init.log" 2>&1 ||
	tl_fail "init failed: $(tail -3 "$D/init.log")"
for n in 1 2 3; do
	"$T" device add --site "$site" --mac "00000000F00$n" \
		--profile encrypted >/dev/null || tl_fail "device add $n"
	"$T" line add --site "$site" --dn "100$n" --device "00000000F00$n" \
		--password "pw100${n}secret" >/dev/null || tl_fail "line add $n"
	"$T" capf set --site "$site" --device "SEP00000000F00$n" \
		--op install --auth null >/dev/null || tl_fail "capf set $n"
done
"$T" cluster mode mixed --site "$site" >/dev/null || tl_fail "cluster mode"

tl_start serve "$T" serve --site "$site"
tl_wait_port tcp 127.0.0.1 $((P + 1)) 20 || tl_fail "serve: no TLS port"
tl_wait_port udp 127.0.0.1 $((P + 2)) 20 || tl_fail "serve: no TFTP"
tl_wait_port tcp 127.0.0.1 $((P + 4)) 20 || tl_fail "serve: no CAPF"

phone() { # NAME N [options]: the phone of line 100N in $D/NAME
	local name=$1 n=$2
	shift 2
	tl_start "$name" "$T" phone --mac "00000000F00$n" --tftp "$tftp" \
		--state "$D/$name" --password "pw100${n}secret" "$@"
}
ctl() { "$T" phone ctl "$D/$1/ctl.sock" "${@:2}"; }
js() { tl_phone_js "$D/$1/ctl.sock" "$2"; } # phone, expression on `s`
wait_js() { tl_phone_wait_js "$D/$1/ctl.sock" "${@:2}"; } # phone, expr, value, s

# 1001 sends 1 kHz and listens for 1.5 kHz, which only 1003 sends: what
# 1001 hears after the transfer can only come from 1003. 1002 is silent.
phone pa 1 --tone 1000 --detect 1500 --record "$D/pa.wav"
phone pb 2 --auto-answer
phone pc 3 --tone 1500 --detect 1000 --record "$D/pc.wav"
for p in pa pb pc; do
	wait_js $p "s['state']" registered 60 ||
		tl_fail "$p did not register: $(ctl $p status 2>&1 | head -3)"
done
tl_assert_eq "TLS TLS TLS" "$(js pa "s['transport']") $(js pb \
	"s['transport']") $(js pc "s['transport']")" "three phones on TLS"

# ---- the tap: every UDP datagram on lo (lo_tap.py; AF_PACKET needs root) ----
tap_ok=false
if [ "$(id -u)" = 0 ]; then
	tl_start tap python3 "$TL_SRC/tests/integ/lo_tap.py" "$D/tap.json" "$D/tap.stop" 90
	for _ in $(seq 50); do
		[ -f "$D/tap.json.ready" ] && tap_ok=true && break
		sleep 0.1
	done
fi
tap() { python3 -c "import json; print(json.load(open('$D/tap.json'))['$1'])"; }

# ---- 1. the encrypted call 1001 -> 1002 ----
tl_check "1001 dials 1002" ctl pa dial 1002
wait_js pb "s['call'].get('tone_detected')" True 15 ||
	tl_check_fail "1002 did not hear 1001's tone"
tl_assert_eq "encrypted encrypted" "$(js pa "s['call']['security']") $(js \
	pb "s['call']['security']")" "1001 -> 1002 is encrypted"
tl_assert_eq "False" "$(js pa "s['call']['tone_detected']")" \
	"1001 hears no 1.5 kHz tone from 1002"

# ---- 2. 1002 transfers 1001 to 1003 ----
tl_check "1002 transfers the call to 1003" ctl pb transfer 1003
wait_js pc "s['call']['state']" ringing 15 ||
	tl_check_fail "1003 is not ringing ($(js pc "s['call']['state']"))"
wait_js pb "s['call']['state']" ended 10 ||
	tl_check_fail "1002's call did not end"
tl_assert_eq "transferred" "$(js pb "s['call']['end_reason']")" \
	"1002 left the call as transferred"
tl_check "1003 answers" ctl pc answer

# ---- 3. 1001 <-> 1003: encrypted, audio both ways ----
wait_js pc "s['call'].get('tone_detected')" True 15 ||
	tl_check_fail "1003 did not hear 1001's tone"
wait_js pa "s['call'].get('tone_detected')" True 15 ||
	tl_check_fail "1001 did not hear 1003's tone"
wait_js pa "s['call']['security']" encrypted 10 ||
	tl_check_fail "1001 does not show encrypted ($(js pa "s['call']['security']"))"
tl_assert_eq "encrypted encrypted" "$(js pa "s['call']['security']") $(js \
	pc "s['call']['security']")" \
	"after the transfer both phones show the call encrypted"
tl_assert_eq "True True" "$(js pa "s['call']['srtp']") $(js pc \
	"s['call']['srtp']")" "SRTP on both"
tl_assert_eq "$(js pa "s['call']['srtp_suite']")" \
	"$(js pc "s['call']['srtp_suite']")" "the same suite on both"
tl_assert_eq "active active" "$(js pa "s['call']['state']") $(js pc \
	"s['call']['state']")" "both in the call"
tl_assert_eq "0" "$(js pc "s['call']['srtp_auth_fail']")" \
	"1003: no SRTP packet failed authentication"
r1=$(js pa "s['call']['packets_received']")
f1=$(js pa "s['call']['srtp_auth_fail']")
sleep 1
r2=$(js pa "s['call']['packets_received']")
f2=$(js pa "s['call']['srtp_auth_fail']")
tl_check "1001 keeps receiving from 1003 ($r1 -> $r2 packets)" \
	test "$r2" -ge $((r1 + 30))
tl_assert_eq "$f1" "$f2" \
	"1001: no SRTP authentication failure once re-keyed ($f2 during the switch)"
tl_check "1001 was re-keyed (its log)" grep -q "SRTP re-keyed" "$(tl_log pa)"
tl_check "1003 was re-keyed (its log)" grep -q "SRTP re-keyed" "$(tl_log pc)"

# ---- 5. hold and resume on the new pair ----
tl_check "1003 holds" ctl pc hold
wait_js pa "s['call']['remote_held']" True 5 ||
	tl_check_fail "1001 does not see the hold"
tl_check "1003 resumes" ctl pc resume
wait_js pa "s['call']['security']" encrypted 5 ||
	tl_check_fail "not encrypted after resume"
r1=$(js pc "s['call']['packets_received']")
sleep 1
r2=$(js pc "s['call']['packets_received']")
tl_check "1003 receives after resume ($r1 -> $r2)" test "$r2" -ge $((r1 + 30))
tl_assert_eq "0 $f2" "$(js pc "s['call']['srtp_auth_fail']") $(js pa \
	"s['call']['srtp_auth_fail']")" \
	"hold and resume kept the keys: no authentication failure"

sleep 1
tl_check "1001 hangs up" ctl pa hangup
wait_js pc "s['call']['state']" ended 10 || tl_check_fail "1003 saw no BYE"
if $tap_ok; then
	touch "$D/tap.stop"
	for _ in $(seq 30); do
		[ -f "$D/tap.json" ] && break
		sleep 0.1
	done
	tl_stop tap >/dev/null 2>&1 || true
	tl_check "tap: SRTP-sized packets on the wire ($(tap srtp_len))" \
		test "$(tap srtp_len)" -gt 100
	tl_assert_eq 0 "$(tap tone)" \
		"tap: the 1 kHz tone's G.711 bytes never appear"
	tl_assert_eq 0 "$(tap plain_len)" "tap: no plain 160-byte RTP"
	tl_assert_eq 0 "$(tap crypto)" "tap: no a=crypto in clear"
else
	echo "SKIP: the tap needs root (AF_PACKET); wire checks skipped"
fi

# ---- the recorded audio ----
cat >"$D/goertzel.py" <<'PY'
# share of the energy at HZ in one second of the WAV: from a quarter in
# ("mid") or ending half a second before the end ("tail")
import math, struct, sys, wave
w = wave.open(sys.argv[1]); n = w.getnframes()
x = struct.unpack("<%dh" % n, w.readframes(n))
if sys.argv[3] == "tail":
    x = x[max(0, n - 12000): max(0, n - 4000)]
else:
    x = x[n // 4: n // 4 + 8000] if n > 12000 else x
k = 2 * math.cos(2 * math.pi * float(sys.argv[2]) / 8000); a = b = 0.0
for v in x:
    a, b = v + k * a - b, a
e = sum(v * v for v in x) or 1
print("%.2f" % ((a * a + b * b - k * a * b) * 2 / (len(x) * e)))
PY
for _ in $(seq 30); do
	[ -f "$D/pa.wav" ] && [ -f "$D/pc.wav" ] && break
	sleep 0.1
done
share=$(python3 "$D/goertzel.py" "$D/pc.wav" 1000 mid 2>/dev/null || echo 0)
tl_check "1003's WAV holds 1001's 1 kHz tone (share $share)" \
	python3 -c "import sys; sys.exit(0 if $share >= 0.8 else 1)"
share=$(python3 "$D/goertzel.py" "$D/pa.wav" 1500 tail 2>/dev/null || echo 0)
tl_check "1001's WAV ends with 1003's 1.5 kHz tone (share $share)" \
	python3 -c "import sys; sys.exit(0 if $share >= 0.8 else 1)"

# ---- 6. the caller transfers: 1003 calls 1001, then sends it on to 1002
#      (the transferee is the callee of the first call this time) ----
tl_check "1003 dials 1001" ctl pc dial 1001
wait_js pa "s['call']['state']" ringing 15 ||
	tl_check_fail "1001 is not ringing ($(js pa "s['call']['state']"))"
tl_check "1001 answers" ctl pa answer
wait_js pa "s['call'].get('tone_detected')" True 15 ||
	tl_check_fail "1001 did not hear 1003's tone"
tl_check "1003 transfers 1001 to 1002" ctl pc transfer 1002
wait_js pc "s['call']['state']" ended 10 ||
	tl_check_fail "1003's call did not end"
wait_js pb "s['call'].get('tone_detected')" True 15 ||
	tl_check_fail "1002 did not hear 1001's tone"
wait_js pa "s['call']['security']" encrypted 10 ||
	tl_check_fail "1001 does not show encrypted ($(js pa "s['call']['security']"))"
tl_assert_eq "encrypted encrypted True True" "$(js pa \
	"s['call']['security']") $(js pb "s['call']['security']") $(js pa \
	"s['call']['srtp']") $(js pb "s['call']['srtp']")" \
	"1001 and 1002: encrypted, SRTP"
tl_assert_eq "0" "$(js pb "s['call']['srtp_auth_fail']")" \
	"1002: no SRTP packet failed authentication"
r1=$(js pa "s['call']['packets_received']")
f1=$(js pa "s['call']['srtp_auth_fail']")
sleep 1
r2=$(js pa "s['call']['packets_received']")
tl_check "1001 receives 1002's (silent) packets ($r1 -> $r2)" \
	test "$r2" -ge $((r1 + 30))
tl_assert_eq "$f1" "$(js pa "s['call']['srtp_auth_fail']")" \
	"1001: no SRTP authentication failure once re-keyed"
tl_check "1002 hangs up" ctl pb hangup
wait_js pa "s['call']['state']" ended 10 || tl_check_fail "1001 saw no BYE"

for p in pa pb pc; do
	rc=0
	tl_stop $p || rc=$?
	tl_assert_eq 0 "$rc" "$p exits 0 on SIGTERM"
done
tl_stop serve >/dev/null 2>&1 || true
tl_summary
