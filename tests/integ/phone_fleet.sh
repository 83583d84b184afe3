#!/usr/bin/env bash
# trustline phone in fleet mode and the control protocol: 20 phones with
# consecutive MACs in one process boot against `trustline serve` (mixed
# cluster: CTL, signed configs) and register; the fleet answers `fleet`
# and `phone N|MAC COMMAND`; a call between two fleet phones; `phone ctl`
# exit codes and one-line errors; SIGTERM ends it with 0.
set -u
if [ -n "${TL_BUILD:-}" ]; then
	mkdir -p "$TL_BUILD/tmp" && export TMPDIR=$TL_BUILD/tmp
fi
. "$(dirname "$0")/lib.sh"
tl_deadline 240

T=${TL_BIN:?TL_BIN is the trustline binary}
D=$(tl_tmpdir)
P=$(tl_free_port 39600 7 150) || tl_fail "no free ports"
site=$D/site
N=20
"$T" init --site "$site" --base-port "$P" >"$D/init.log" 2>&1 ||
	tl_fail "init failed: $(tail -3 "$D/init.log")"
for i in $(seq 0 $((N - 1))); do
	mac=$(printf '0000C00000%02X' "$i")
	dn=$((3000 + i))
	"$T" device add --site "$site" --mac "$mac" >/dev/null ||
		tl_fail "device add $mac"
	"$T" line add --site "$site" --dn "$dn" --device "$mac" \
		--password "fleet$dn" >/dev/null || tl_fail "line add $dn"
done
"$T" cluster mode mixed --site "$site" >/dev/null || tl_fail "cluster mode"
tl_start serve "$T" serve --site "$site" --no-capf
tl_wait_port udp 127.0.0.1 $((P + 2)) 20 || tl_fail "serve: no TFTP"
tl_wait_port udp 127.0.0.1 "$P" 20 || tl_fail "serve: no SIP"

tl_start fleet "$T" phone --fleet "$N" --mac 0000C0000000 \
	--tftp "127.0.0.1:$((P + 2))" --state "$D/fleet" \
	--password-from-dn fleet --workers 4 --timeout 60 --tone 1000 \
	--auto-answer
sock=$D/fleet/ctl.sock
for _ in $(seq 300); do
	out=$("$T" phone ctl "$sock" fleet 2>/dev/null) &&
		[ "$out" = "phones $N registered $N failed 0" ] && break
	sleep 0.1
done
tl_assert_eq "phones $N registered $N failed 0" "$out" \
	"every fleet phone registered"
tl_check "the fleet printed its registration time" \
	grep -q "^fleet: $N/$N registered in" "$(tl_log fleet)"
js() { "$T" phone ctl "$sock" phone "$1" status json |
	python3 -c "import json,sys; s=json.load(sys.stdin); print($2)"; }
tl_assert_eq "SEP0000C0000003 registered 3003" \
	"$(js 3 "s['device'], s['state'], s['lines'][0]['dn']" | tr -d "(),'")" \
	"phone 3 by index"
tl_assert_eq "SEP0000C000000A" "$(js 0000C000000A "s['device']")" \
	"phone by MAC"
tl_assert_eq "ok ok" "$(js 5 "s['boot']['ctl']['state'], s['boot']['config']['state']" |
	tr -d "(),'")" "CTL and signed config verified"
tl_check "the phones' state directories" test -f \
	"$D/fleet/SEP0000C0000013/CTLFile.tlv"

# A call between two phones of the fleet (both auto-answer, both send a
# tone): nonsecure, RTP.
tl_check "phone 1 dials 3004" "$T" phone ctl "$sock" phone 1 dial 3004
for _ in $(seq 50); do
	[ "$(js 4 "s['call'].get('tone_detected')")" = True ] && break
	sleep 0.1
done
tl_assert_eq "active nonsecure False True" \
	"$(js 4 "s['call']['state'], s['call']['security'], s['call']['srtp'], s['call']['tone_detected']" |
		tr -d "(),'")" "3004 in the call, nonsecure, hears the tone"
# Blind transfer (RFC 3515): 3004 sends 3001 on to 3006; the call manager
# calls 3006 and re-points 3001's media there (RFC 3725).
tl_check "phone 4 transfers the call to 3006" \
	"$T" phone ctl "$sock" phone 4 transfer 3006
for _ in $(seq 100); do
	[ "$(js 6 "s['call'].get('tone_detected')")" = True ] && break
	sleep 0.1
done
tl_assert_eq "ended transferred" \
	"$(js 4 "s['call']['state'], s['call']['end_reason']" | tr -d "(),'")" \
	"the transferring phone's call ended as transferred"
tl_assert_eq "active 3001 True" \
	"$(js 6 "s['call']['state'], s['call']['number'], s['call']['tone_detected']" |
		tr -d "(),'")" "3006 talks to 3001 and hears its tone"
tl_check "phone 1 hangs up" "$T" phone ctl "$sock" phone 1 hangup

# phone ctl: errors are one line on stderr, exit 1; usage errors exit 2.
rc=0
"$T" phone ctl "$sock" phone 99 status 2>"$D/e1" || rc=$?
tl_assert_eq 1 "$rc" "no such phone: exit 1"
tl_assert_eq "trustline phone: error no such phone" "$(cat "$D/e1")" \
	"one line"
rc=0
"$T" phone ctl "$sock" phone 2 frobnicate 2>"$D/e2" || rc=$?
tl_assert_eq 1 "$rc" "unknown command: exit 1"
tl_check "it names the command" grep -q "unknown command frobnicate" "$D/e2"
rc=0
"$T" phone ctl "$sock" phone 2 answer 2>"$D/e3" || rc=$?
tl_assert_eq 1 "$rc" "answer without a call: exit 1"
rc=0
"$T" phone ctl "$D/nosuch.sock" status 2>"$D/e4" || rc=$?
tl_assert_eq 1 "$rc" "no socket: exit 1"
tl_assert_eq 1 "$(wc -l <"$D/e4")" "one line"
rc=0
"$T" phone ctl "$sock" 2>"$D/e5" || rc=$?
tl_assert_eq 2 "$rc" "ctl without a command: usage error"
rc=0
"$T" phone --fleet 0 --mac 0000C0000000 --tftp 127.0.0.1:1 \
	--state "$D/x" 2>"$D/e6" || rc=$?
tl_assert_eq 2 "$rc" "--fleet 0: usage error"
rc=0
"$T" phone --fleet 2 --mac FFFFFFFFFFFF --tftp 127.0.0.1:1 \
	--state "$D/x" 2>"$D/e7" || rc=$?
tl_assert_eq 2 "$rc" "MACs past FFFFFFFFFFFF: usage error"

rc=0
tl_stop fleet || rc=$?
tl_assert_eq 0 "$rc" "the fleet exits 0 on SIGTERM"
tl_check "the control socket is gone" test ! -e "$sock"
rc=0
tl_stop serve || rc=$?
tl_assert_eq 0 "$rc" "serve exits 0"
tl_summary
