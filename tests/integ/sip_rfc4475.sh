#!/usr/bin/env bash
# The running server handles every RFC 4475 torture message as the
# manifest says (../shared/testdata/rfc4475/manifest.tsv), and is still
# alive and answering afterwards.
set -u
. "$(dirname "$0")/lib.sh"
tl_deadline 300

T=${TL_BIN:?TL_BIN is the trustline binary}
: "${TL_SHARED:=$TL_SRC/../shared}"
data=$TL_SHARED/testdata/rfc4475
[ -r "$data/manifest.tsv" ] || tl_fail "no RFC 4475 test data in $data"
D=$(tl_tmpdir)
P=$(tl_free_port 36400 7 200) || tl_fail "no free ports"
site=$D/site

"$T" init --site "$site" --base-port "$P" >"$D/init.log" 2>&1 ||
	tl_fail "init failed: $(tail -3 "$D/init.log")"
# A short T1 so that transactions end (Timer J = 64*T1) before a later
# message reuses the same branch.
sed -i 's/^t1_ms = .*/t1_ms = 20/' "$site/trustline.conf"
tl_start serve "$T" serve --site "$site" --no-tftp --no-http
tl_wait_port udp 127.0.0.1 "$P" 20 || tl_fail "serve did not bind UDP $P"

# Replies go to the Via sent-by port on the source address: the client
# uses a loopback address of its own so those ports are free.
if python3 "$TL_SRC/tests/integ/sip_rfc4475.py" "$data" 127.0.0.1 "$P" \
	127.0.0.77 1.5 >"$D/torture.out" 2>&1; then
	tl_pass "every torture message answered as the manifest says"
else
	grep -v '^ok:' "$D/torture.out" >&2
	tl_check_fail "every torture message answered as the manifest says"
fi
cat "$D/torture.out"

tl_check "the server is still running" tl_alive serve
tl_check "and still answers OPTIONS" \
	tl_sipp options 127.0.0.1:"$P" -sf "$TL_SRC/tests/sipp/options.xml" \
	-m 1 -t u1 -p $((P + 50))
rc=0
tl_stop serve || rc=$?
tl_assert_eq 0 "$rc" "serve exits 0 on SIGTERM"
tl_summary
