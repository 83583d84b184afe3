#!/usr/bin/env bash
# `trustline serve` as a registrar, end to end with real peers on loopback:
# SIPp over UDP, TCP and TLS (through stunnel), digest REGISTER, OPTIONS,
# wrong passwords, UDP retransmissions absorbed by the server transaction,
# the per-device TLS policy (seed 002), clean SIGTERM and startup errors.
set -u
. "$(dirname "$0")/lib.sh"
tl_deadline 300

T=${TL_BIN:?TL_BIN is the trustline binary}
D=$(tl_tmpdir)
SIPP=$TL_SRC/tests/sipp
P=$(tl_free_port 36000 7 200) || tl_fail "no free ports"
LP=$(tl_free_port 36300 6 200) || tl_fail "no free ports for peers"
site=$D/site

"$T" init --site "$site" --base-port "$P" >"$D/init.log" 2>&1 ||
	tl_fail "init failed: $(tail -3 "$D/init.log")"
# SIPp 3.6 reads only the first challenge and knows only MD5.
sed -i 's/^digest = .*/digest = md5,sha256/' "$site/trustline.conf"
"$T" device add --site "$site" --mac 00:11:22:33:44:01 >/dev/null ||
	tl_fail "device add"
"$T" device add --site "$site" --mac 001122334402 --profile encrypted \
	>/dev/null || tl_fail "device add (encrypted)"
"$T" line add --site "$site" --dn 1001 --device 001122334401 --user 1001 \
	--password secret1001 >/dev/null || tl_fail "line add 1001"
"$T" line add --site "$site" --dn 1002 --device 001122334402 --user 1002 \
	--password secret1002 >/dev/null || tl_fail "line add 1002"
mkdir -p "$D/mic"
"$T" mfg issue --site "$site" --mac 001122334402 --out "$D/mic" >/dev/null ||
	tl_fail "mfg issue"

cat >"$D/users.csv" <<'EOF'
SEQUENTIAL
1001;secret1001;[authentication username=1001 password=secret1001];[authentication username=1001 password=wrong]
EOF
# The encrypted device's correct credentials in field 3: the "wrong
# password" scenario passes when they are refused (401/403).
cat >"$D/enc.csv" <<'EOF'
SEQUENTIAL
1002;secret1002;[authentication username=1002 password=secret1002];[authentication username=1002 password=secret1002]
EOF

tl_start serve "$T" serve --site "$site"
tl_wait_port udp 127.0.0.1 "$P" 20 || tl_fail "serve did not bind UDP $P"
tl_wait_port tcp 127.0.0.1 $((P + 1)) 20 || tl_fail "serve did not bind TLS"

tl_check "REGISTER with digest over UDP" \
	tl_sipp reg-udp 127.0.0.1:"$P" -sf "$SIPP/register_auth.xml" \
	-inf "$D/users.csv" -m 3 -t u1 -p "$LP"
tl_check "REGISTER with digest over TCP" \
	tl_sipp reg-tcp 127.0.0.1:"$P" -sf "$SIPP/register_auth.xml" \
	-inf "$D/users.csv" -m 3 -t t1 -p "$LP"
tl_check "OPTIONS answered 200 over UDP" \
	tl_sipp options 127.0.0.1:"$P" -sf "$SIPP/options.xml" -m 2 -t u1 \
	-p "$LP"
tl_check "a wrong password is refused" \
	tl_sipp wrong 127.0.0.1:"$P" -sf "$SIPP/register_wrong_password.xml" \
	-inf "$D/users.csv" -m 2 -t u1 -nr -p "$LP"
tl_check "retransmitted REGISTERs are answered by the transaction" \
	tl_sipp retrans 127.0.0.1:"$P" -sf "$SIPP/register_retrans.xml" \
	-inf "$D/users.csv" -m 2 -t u1 -nr -p "$LP"

# TLS through stunnel: server certificate checked against the site CA.
tl_stunnel_conf "$D/stunnel.conf" $((LP + 1)) 127.0.0.1:$((P + 1)) \
	"$site/pki/ca.crt"
tl_start stunnel stunnel4 "$D/stunnel.conf"
tl_wait_port tcp 127.0.0.1 $((LP + 1)) 10 || tl_fail "stunnel not listening"
tl_check "REGISTER with digest over TLS (kept-open connection)" \
	tl_sipp reg-tls 127.0.0.1:$((LP + 1)) -sf "$SIPP/register_auth.xml" \
	-inf "$D/users.csv" -m 3 -t t1 -p $((LP + 2))

# seed 002: an encrypted device may not register over UDP, nor over TLS
# without its certificate; with its MIC it may.
tl_check "encrypted device refused over UDP" \
	tl_sipp enc-udp 127.0.0.1:"$P" -sf "$SIPP/register_wrong_password.xml" \
	-inf "$D/enc.csv" -m 1 -t u1 -p "$LP"
tl_check "encrypted device refused over TLS without a certificate" \
	tl_sipp enc-tls-nocert 127.0.0.1:$((LP + 1)) \
	-sf "$SIPP/register_wrong_password.xml" -inf "$D/enc.csv" -m 1 -t t1 \
	-p $((LP + 2))
tl_stunnel_conf "$D/stunnel-mic.conf" $((LP + 3)) 127.0.0.1:$((P + 1)) \
	"$site/pki/ca.crt" "$D/mic/SEP001122334402.crt" \
	"$D/mic/SEP001122334402.key"
tl_start stunnel-mic stunnel4 "$D/stunnel-mic.conf"
tl_wait_port tcp 127.0.0.1 $((LP + 3)) 10 || tl_fail "stunnel (MIC) not up"
tl_check "encrypted device registers over TLS with its MIC" \
	tl_sipp enc-tls-mic 127.0.0.1:$((LP + 3)) \
	-sf "$SIPP/register_auth.xml" -inf "$D/enc.csv" -m 1 -t t1 \
	-p $((LP + 4))
refusals=$(sqlite3 "$site/trustline.db" \
	"select count(*) from audit where action='register-refused' and detail like 'dn=1002%'" 2>&1)
tl_assert_eq 2 "$refusals" "both refusals are in the audit log"

# A second server on the same ports must fail at once with one line.
if "$T" serve --site "$site" >"$D/second.out" 2>"$D/second.err"; then
	tl_check_fail "a second serve on taken ports exits non-zero"
else
	tl_pass "a second serve on taken ports exits non-zero"
fi
tl_check "the startup error is one line naming the port" \
	grep -q "cannot start SIP on 127.0.0.1:$P" "$D/second.err"

if "$T" serve --site "$D/none" 2>"$D/nosite.err"; then
	tl_check_fail "serve without a site exits non-zero"
else
	tl_check "serve without a site says so" grep -q "no site in" \
		"$D/nosite.err"
fi

# Clean shutdown on SIGTERM: exit status 0.
rc=0
tl_stop serve || rc=$?
tl_assert_eq 0 "$rc" "serve exits 0 on SIGTERM"
tl_check "serve logged its shutdown" grep -q "stopped" "$(tl_log serve)"

tl_summary
