#!/usr/bin/env bash
# The phone's MWI subscription (RFC 3842 message-summary over RFC 6665) is
# refreshed inside its dialog: `trustline serve` and one `trustline phone`
# asking for 60 s (registration and subscription, the notifier's
# minimum) on a nonsecure line.
#  1. The subscription is granted once, in one dialog (Call-ID).
#  2. About half-way it is refreshed with a SUBSCRIBE inside that dialog,
#     which the notifier takes (it answers 481 to a dialog it does not
#     know, and the phone would then start a new one).
#  3. After the first 60 s have passed, an MWI change (`trustline mwi set`)
#     still reaches the phone, and no second dialog was ever made.
#  4. The call manager restarts and forgets the subscription: the next
#     refresh gets 481, the phone drops the dialog and starts a new one
#     (after its next REGISTER at the latest), and a change reaches it.
#  5. On SIGTERM the phone unsubscribes and exits 0.
set -u
if [ -n "${TL_BUILD:-}" ]; then
	mkdir -p "$TL_BUILD/tmp" && export TMPDIR=$TL_BUILD/tmp
fi
. "$(dirname "$0")/lib.sh"
tl_deadline 300

T=${TL_BIN:?TL_BIN is the trustline binary}
D=$(tl_tmpdir)
P=$(tl_free_port 35100 7 200) || tl_fail "no free ports"
site=$D/site
command -v python3 >/dev/null || tl_fail "python3 needed"

"$T" init --site "$site" --base-port "$P" >"$D/init.log" 2>&1 ||
	tl_fail "init failed: $(tail -3 "$D/init.log")"
"$T" device add --site "$site" --mac 00000000D701 >/dev/null ||
	tl_fail "device add"
"$T" line add --site "$site" --dn 1701 --device 00000000D701 \
	--password pw1701mwi >/dev/null || tl_fail "line add"
"$T" cluster mode mixed --site "$site" >/dev/null || tl_fail "cluster mode"
tl_start serve "$T" serve --site "$site" --no-capf
tl_wait_port udp 127.0.0.1 $((P + 2)) 20 || tl_fail "serve: no TFTP"
tl_wait_port udp 127.0.0.1 "$P" 20 || tl_fail "serve: no SIP"

tl_start phone "$T" phone --mac 00000000D701 --tftp "127.0.0.1:$((P + 2))" \
	--state "$D/phone" --password pw1701mwi --expires 60
log=$(tl_log phone)
js() { tl_phone_js "$D/phone/ctl.sock" "$1"; }             # expression on `s`
wait_js() { tl_phone_wait_js "$D/phone/ctl.sock" "$@"; } # expr, value, s
wait_log() { # pattern, seconds
	local i
	for i in $(seq $(($2 * 10))); do
		grep -q "$1" "$log" && return 0
		sleep 0.1
	done
	return 1
}

wait_js "s['state']" registered 30 || tl_fail "the phone did not register"
tl_pass "the phone registered"

# ---- 1. one subscription, one dialog ----
wait_log "line 1701: MWI subscription granted in dialog" 10 ||
	tl_fail "no MWI subscription granted"
t0=$(date +%s)
cid=$(sed -n 's/.*line 1701: MWI subscription granted in dialog \([0-9a-f]*\),.*/\1/p' \
	"$log" | head -1)
tl_check "the subscription has a dialog ($cid)" test -n "$cid"
tl_check "60 s asked and granted" \
	grep -q "granted in dialog $cid, expires 60s" "$log"
wait_js "s['mwi_new']" 0 5 || tl_check_fail "no first NOTIFY"

# ---- 2. the refresh inside the dialog, at about half the 60 s ----
wait_log "line 1701: MWI subscription refreshed" 50 ||
	tl_fail "the subscription was not refreshed"
t1=$(date +%s)
tl_check "refreshed inside the same dialog" \
	grep -q "line 1701: MWI subscription refreshed in dialog $cid, expires 60s" \
	"$log"
tl_check "refreshed at about half the expiry ($((t1 - t0)) s)" \
	test $((t1 - t0)) -ge 20 -a $((t1 - t0)) -le 45
m="s['lines'][0]['mwi_subscription']"
tl_check "the status shows it active again after the refresh" \
	wait_js "$m['state'], $m['refreshes'] >= 1, $m['dialogs']" \
	"active True 1" 10
tl_check "more than half of its 60 s left (the refresh renewed it)" \
	test "$(js "$m['expires_in'] > 35")" = True

# ---- 3. past the first expiry, a change still reaches the phone ----
left=$((t0 + 64 - $(date +%s)))
[ "$left" -gt 0 ] && sleep "$left"
"$T" mwi set 1701 --new 3 --old 1 --site "$site" >/dev/null ||
	tl_fail "mwi set"
wait_js "s['mwi_new']" 3 10 || tl_check_fail "the MWI change did not arrive"
tl_assert_eq "True 3 1" "$(js "s['mwi'], s['mwi_new'], s['mwi_old']" |
	tr -d "(),'")" "a change made after the first expiry reaches the phone"
tl_assert_eq 1 "$(grep -c "line 1701: MWI subscription granted" "$log")" \
	"no second subscription was started"
tl_check "the subscription was never dropped or terminated" \
	bash -c "! grep -Eq 'MWI subscription (dropped|terminated)' '$log'"
tl_check "the refreshes kept the dialog" bash -c \
	"! grep 'MWI subscription refreshed' '$log' | grep -vq 'dialog $cid,'"

# ---- 4. the notifier forgets the dialog: 481, then a new dialog ----
rc=0
tl_stop serve || rc=$?
tl_assert_eq 0 "$rc" "serve exits 0"
tl_start serve2 "$T" serve --site "$site" --no-capf
tl_wait_port udp 127.0.0.1 "$P" 20 || tl_fail "serve again: no SIP"
wait_log "line 1701: MWI subscription dropped (refresh refused: 481" 45 ||
	tl_fail "the refresh of the forgotten dialog did not get 481"
tl_pass "the refresh of the forgotten dialog was refused with 481"
for _ in $(seq 700); do
	[ "$(grep -c "line 1701: MWI subscription granted" "$log")" -ge 2 ] &&
		break
	sleep 0.1
done
cid2=$(sed -n 's/.*line 1701: MWI subscription granted in dialog \([0-9a-f]*\),.*/\1/p' \
	"$log" | sed -n 2p)
tl_check "a new subscription in a new dialog ($cid2)" \
	test -n "$cid2" -a "$cid2" != "$cid"
"$T" mwi set 1701 --new 0 --old 4 --site "$site" >/dev/null ||
	tl_fail "mwi set"
wait_js "s['mwi_old']" 4 10 || tl_check_fail "the MWI change did not arrive"
tl_assert_eq "False 0 4" "$(js "s['mwi'], s['mwi_new'], s['mwi_old']" |
	tr -d "(),'")" "a change reaches the phone in the new dialog"
cid=$cid2

# ---- 5. stop ----
rc=0
tl_stop phone || rc=$?
tl_assert_eq 0 "$rc" "the phone exits 0 on SIGTERM"
tl_check "it unsubscribed inside the dialog" \
	grep -q "line 1701: MWI unsubscribed (200) in dialog $cid" "$log"
rc=0
tl_stop serve2 || rc=$?
tl_assert_eq 0 "$rc" "serve exits 0"
tl_summary
