#!/usr/bin/env bash
# trustline.conf [net] limits of the SIP service: a bad value stops
# `serve` at start with one line; max_conns_per_ip = 3 lets three TCP
# connections from one address stay and closes the fourth at once;
# idle_timeout_s = 10 closes an idle connection after 10 s, not the
# default 300 s; max_conns = 5 refuses the sixth connection (from
# another address).
# Ports: 38500-38599 on 127.0.0.1 (and 127.0.0.2 as a second source).
set -u
. "$(dirname "$0")/lib.sh"
tl_deadline 120

T=${TL_BIN:?TL_BIN is the trustline binary}
D=$(tl_tmpdir)
P=$(tl_free_port 38500 7 100) || tl_fail "no free ports"
site=$D/site

"$T" init --site "$site" --base-port "$P" >"$D/init.log" 2>&1 ||
	tl_fail "init failed: $(tail -3 "$D/init.log")"
conf=$site/trustline.conf
cp "$conf" "$D/conf.orig"
# set_net KEY=VALUE...: the [net] section gets these lines
set_net() {
	cp "$D/conf.orig" "$conf"
	local kv
	for kv in "$@"; do
		sed -i "s/^\[net\]\$/[net]\n${kv%%=*} = ${kv#*=}/" "$conf"
	done
}

for bad in max_conns=0 max_conns=-1 max_conns=1048577 max_conns=12x \
	max_conns_per_ip=0 idle_timeout_s=9 idle_timeout_s=86401 \
	"idle_timeout_s=" max_conns=99999999999999999999; do
	set_net "$bad"
	rc=0
	timeout 20 "$T" serve --site "$site" --no-tftp --no-http --no-capf \
		>"$D/bad.out" 2>"$D/bad.err" || rc=$?
	if [ $rc -ne 0 ] && grep -q "bad setting on line" "$D/bad.err"; then
		tl_pass "[net] $bad refused at start"
	else
		tl_check_fail "[net] $bad refused at start (rc $rc)"
	fi
done

# eof_within FD SECONDS: 0 when the server closes FD within SECONDS
eof_within() {
	local fd=$1 secs=$2 junk rc=0
	while :; do
		rc=0
		IFS= read -r -t "$secs" -N 1 junk <&"$fd" || rc=$?
		[ $rc -eq 0 ] && continue
		[ $rc -gt 128 ] && return 1
		return 0
	done
}

set_net max_conns=5 max_conns_per_ip=3 idle_timeout_s=10
tl_start serve "$T" serve --site "$site" --no-tftp --no-http --no-capf
tl_wait_port tcp 127.0.0.1 "$P" 20 || tl_fail "serve did not listen on $P"

fds=()
for i in 1 2 3; do
	exec {fd}<>"/dev/tcp/127.0.0.1/$P" || tl_fail "connect $i"
	fds+=("$fd")
done
sleep 0.3
exec {fd}<>"/dev/tcp/127.0.0.1/$P" || tl_fail "connect 4"
if eof_within "$fd" 3; then
	tl_pass "max_conns_per_ip = 3: the fourth connection is closed"
else
	tl_check_fail "max_conns_per_ip = 3: the fourth connection is closed"
fi
exec {fd}<&-
# three more from another address (bash's /dev/tcp cannot choose one:
# python, from 127.0.0.2): the fourth and fifth in all are let in, the
# sixth is over max_conns = 5
python3 - "$P" >"$D/total.out" 2>&1 <<'PY'
import socket, sys, time
port = int(sys.argv[1])
socks = []
for i in range(3):
    s = socket.socket()
    s.bind(("127.0.0.2", 0))
    s.connect(("127.0.0.1", port))
    socks.append(s)
    time.sleep(0.2)
res = []
for s in socks:
    s.settimeout(2)
    try:
        res.append("closed" if s.recv(1) == b"" else "data")
    except socket.timeout:
        res.append("open")
    except OSError:
        res.append("closed")
print(" ".join(res))
PY
tl_assert_eq "open open closed" "$(cat "$D/total.out")" \
	"max_conns = 5: the fourth and fifth connections stay, the sixth is closed"

# idle: the first three were opened more than 3 s ago; within 10 s more
# they are gone (default: 300 s)
t0=$(date +%s)
if eof_within "${fds[0]}" 12; then
	tl_pass "idle_timeout_s = 10: an idle connection is closed ($(($(date +%s) - t0)) s after the checks)"
else
	tl_check_fail "idle_timeout_s = 10: an idle connection is closed"
fi
for fd in "${fds[@]}"; do exec {fd}<&-; done
tl_check "serve stops cleanly" tl_stop serve
tl_summary
