#!/usr/bin/env bash
# Auto-registration into a DN pool (seed 002: nonsecure clusters only),
# end to end with SIPp against `trustline serve`: refused while off (403 at
# once, audited); `trustline cluster autoreg on` (its must-reject cases);
# an unknown SEP<MAC> device answering the challenge with the pool's
# credentials gets the first free DN (P-Associated-URI in the 200, device
# and line in the database, audit row), keeps it when it registers again,
# the next device (over TCP) gets the next DN, a wrong pool password
# creates nothing, the pool running out is refused and audited; in mixed
# mode `autoreg on` is refused and unknown devices are refused (audited).
# Ports: 38300-38499 on 127.0.0.1.
set -u
. "$(dirname "$0")/lib.sh"
tl_deadline 180

T=${TL_BIN:?TL_BIN is the trustline binary}
D=$(tl_tmpdir)
SIPP=$TL_SRC/tests/sipp
P=$(tl_free_port 38300 7 100) || tl_fail "no free ports"
port() { tl_free_port 38400 1 100 || tl_fail "no free port"; }
site=$D/site

"$T" init --site "$site" --base-port "$P" >"$D/init.log" 2>&1 ||
	tl_fail "init failed: $(tail -3 "$D/init.log")"
# SIPp 3.6 reads only the first challenge and knows only MD5.
sed -i 's/^digest = .*/digest = md5,sha256/' "$site/trustline.conf"

db() { sqlite3 "$site/trustline.db" "$1" 2>&1; }
# csv NAME MAC PASSWORD [DN]
csv() {
	printf 'SEQUENTIAL\nSEP%s;[authentication username=autoreg password=%s];%s\n' \
		"$2" "$3" "${4:-0}" >"$D/$1.csv"
}
# autoreg NAME TRANSPORT MAC PASSWORD DN: registers and must get DN
autoreg() {
	csv "$1" "$3" "$4" "$5"
	tl_sipp "$1" 127.0.0.1:"$P" -sf "$SIPP/cm_autoreg.xml" \
		-inf "$D/$1.csv" -m 1 -t "$2" -p "$(port)" -trace_msg \
		-message_file "$D/$1.msg" &&
		grep -q "^P-Associated-URI: <sip:$5@" "$D/$1.msg"
}
# refused NAME MAC PASSWORD: the REGISTER ends in 403
refused() {
	csv "$1" "$2" "$3"
	tl_sipp "$1" 127.0.0.1:"$P" -sf "$SIPP/cm_autoreg_refused.xml" \
		-inf "$D/$1.csv" -m 1 -t u1 -p "$(port)" -trace_msg \
		-message_file "$D/$1.msg"
}
audits() { db "select count(*) from audit where action='$1' and detail like '%$2%'"; }
# wait until the server has read a settings change (once a second)
settle() { sleep 1.5; }

tl_start serve "$T" -v serve --site "$site" --no-tftp --no-http --no-capf
tl_wait_port udp 127.0.0.1 "$P" 20 || tl_fail "serve did not bind UDP $P"

# 1. Off (the default): an unknown device is refused at once, audited.
tl_check "autoreg off: unknown device refused with 403" \
	refused off 001122AA0001 poolpw
tl_check "... 'Unknown device'" grep -q "^SIP/2.0 403 Unknown device" "$D/off.msg"
tl_assert_eq 1 "$(audits autoreg-refused SEP001122AA0001)" \
	"... audited (autoreg-refused)"
tl_assert_eq 0 "$(db "select count(*) from devices")" "... no device created"

# 2. The command's must-reject cases; then on.
bad() {
	local why=$1
	shift
	if "$T" cluster autoreg "$@" --site "$site" >/dev/null 2>"$D/bad.err"; then
		tl_check_fail "cluster autoreg $* refused ($why)"
	elif [ "$(wc -l <"$D/bad.err")" = 1 ]; then
		tl_pass "cluster autoreg $* refused with one line ($why)"
	else
		tl_check_fail "cluster autoreg $* refused with one line ($why)"
	fi
}
bad "no pool" on --password poolpw
bad "no password yet" on --pool 3000-3001
bad "reversed pool" on --pool 3001-3000 --password poolpw
bad "leading zero" on --pool 03000-3001 --password poolpw
bad "not a number" on --pool 3000-30x1 --password poolpw
bad "overflow" on --pool 1-99999999999999999999 --password poolpw
bad "pool too large" on --pool 1-100001 --password poolpw
bad "secure profile" on --pool 3000-3001 --password poolpw --profile encrypted
bad "no such profile" on --pool 3000-3001 --password poolpw --profile nope
bad "bad user" on --pool 3000-3001 --password poolpw --user 'a b'
bad "empty password" on --pool 3000-3001 --password ''
bad "options with off" off --pool 3000-3001
bad "unknown action" maybe
tl_check "cluster autoreg on" bash -c \
	"'$T' cluster autoreg on --pool 3000-3001 --password poolpw --site '$site' >/dev/null"
tl_check "autoreg show --json says on" bash -c \
	"'$T' cluster autoreg show --json --site '$site' | grep -q '\"autoreg\": \"on\"'"
tl_assert_eq 0 "$(db "select count(*) from settings where value like '%poolpw%'")" \
	"the pool password is not stored (HA1 only)"
tl_assert_eq 1 "$(db "select count(*) from audit where action='cluster.autoreg' and detail like 'on pool=3000-3001%'")" \
	"autoreg on is audited"
settle

# 3. Unknown devices get the pool's numbers, in order.
tl_check "device A auto-registers over UDP and gets 3000" \
	autoreg a1 u1 001122AA0001 poolpw 3000
tl_assert_eq "3000|001122AA0001|nonsecure" \
	"$(db "select l.dn, d.mac, d.profile from lines l join devices d on d.mac = l.device where d.mac='001122AA0001'")" \
	"... device and line in the database"
tl_assert_eq 1 "$(audits autoreg 'SEP001122AA0001 dn=3000')" \
	"... audited (autoreg)"
tl_check "device A registers again and keeps 3000" \
	autoreg a2 u1 001122AA0001 poolpw 3000
if autoreg wrong u1 001122AA0002 wrongpw 3001; then
	tl_check_fail "a wrong pool password registers nothing"
else
	tl_assert_eq 0 "$(db "select count(*) from devices where mac='001122AA0002'")" \
		"a wrong pool password registers nothing"
fi
tl_check "device B auto-registers over TCP and gets 3001" \
	autoreg b1 t1 001122AA0002 poolpw 3001

# 4. The pool runs out.
tl_check "device C: pool exhausted, 403" refused c1 001122AA0003 poolpw
tl_check "... 'Auto-registration pool exhausted'" \
	grep -q "^SIP/2.0 403 Auto-registration pool exhausted" "$D/c1.msg"
tl_assert_eq 1 "$(audits autoreg-refused 'DN pool exhausted')" "... audited"
tl_assert_eq 0 "$(db "select count(*) from devices where mac='001122AA0003'")" \
	"... no device created"

# 5. Mixed mode (seed 002): autoreg refused, unknown devices refused.
tl_check "cluster mode mixed" bash -c \
	"'$T' cluster mode mixed --site '$site' >/dev/null"
bad "mixed mode" on --pool 3000-3009
tl_check "autoreg show says refused in mixed mode" bash -c \
	"'$T' cluster autoreg show --json --site '$site' | grep -q 'refused (mixed mode)'"
settle
tl_check "mixed mode: unknown device refused with 403" \
	refused m1 001122AA0004 poolpw
tl_check "... 'Auto-registration refused in mixed mode'" \
	grep -q "^SIP/2.0 403 Auto-registration refused in mixed mode" "$D/m1.msg"
tl_assert_eq 1 "$(audits autoreg-refused 'mixed mode')" "... audited"
tl_assert_eq 0 "$(db "select count(*) from devices where mac='001122AA0004'")" \
	"... no device created"

# 6. Off again.
"$T" cluster mode nonsecure --site "$site" >/dev/null || tl_fail "mode nonsecure"
tl_check "cluster autoreg off" bash -c \
	"'$T' cluster autoreg off --site '$site' >/dev/null"
settle
tl_check "autoreg off: unknown device refused again" \
	refused off2 001122AA0005 poolpw
tl_check "serve stops cleanly" tl_stop serve
tl_summary
