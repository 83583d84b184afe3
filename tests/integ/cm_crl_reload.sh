#!/usr/bin/env bash
# CRL reload without a restart: a device's LSC completes a TLS handshake
# with `trustline serve`; `trustline ca revoke` rewrites pki/crl.pem while
# the daemon runs; the next handshake with that certificate is refused
# (openssl s_client, TLS 1.2 and 1.3) while another device's certificate
# still passes, and the daemon logs the reload. A damaged CRL file keeps
# the CRL in force.
# Ports: 38000-38199 on 127.0.0.1.
set -u
. "$(dirname "$0")/lib.sh"
tl_deadline 120

T=${TL_BIN:?TL_BIN is the trustline binary}
D=$(tl_tmpdir)
P=$(tl_free_port 38100 7 100) || tl_fail "no free ports"
site=$D/site

"$T" init --site "$site" --base-port "$P" >"$D/init.log" 2>&1 ||
	tl_fail "init failed: $(tail -3 "$D/init.log")"
for n in 1 2; do
	mac=00112233CC0$n
	"$T" device add --site "$site" --mac "$mac" --profile encrypted \
		>/dev/null || tl_fail "device add $mac"
	mkdir -p "$D/lsc$n"
	"$T" ca issue --site "$site" --profile lsc --cn "SEP$mac" \
		--out "$D/lsc$n" >/dev/null || tl_fail "ca issue $n"
done
ca=$site/pki/ca.crt

# hs NAME N VERSION: one handshake with device N's LSC; 0 when it completes
# and the server accepted the certificate. With TLS 1.3 the server checks
# the client's certificate after the client's Finished: a refusal arrives
# as an alert on the first read, so send one CRLF keepalive and wait for
# the server's answer or its alert (3 s: a loaded machine may take more
# than one).
hs() {
	local name=$1 n=$2 ver=$3 mac=00112233CC0$2
	(printf '\r\n\r\n'; sleep 3) | timeout 10 openssl s_client \
		-connect "127.0.0.1:$((P + 1))" "$ver" -CAfile "$ca" \
		-verify_return_error -cert "$D/lsc$n/SEP$mac.crt" \
		-key "$D/lsc$n/SEP$mac.key" >"$D/$name.out" 2>&1
	local rc=$?
	[ $rc -eq 0 ] && ! grep -qi "alert" "$D/$name.out"
}

tl_start serve "$T" -v serve --site "$site" --no-tftp --no-http --no-capf
tl_wait_port tcp 127.0.0.1 $((P + 1)) 20 || tl_fail "serve did not bind TLS"

tl_check "device 1's LSC is accepted (TLS 1.2)" hs before12 1 -tls1_2
tl_check "device 1's LSC is accepted (TLS 1.3)" hs before13 1 -tls1_3

serial=$("$T" ca show --site "$site" --cert "$D/lsc1/SEP00112233CC01.crt" \
	--json | sed -n 's/.*"serial": "\([0-9a-fA-F]*\)".*/\1/p')
[ -n "$serial" ] || tl_fail "no serial for device 1's LSC"
"$T" ca revoke --site "$site" --serial "$serial" >/dev/null ||
	tl_fail "ca revoke"
for _ in $(seq 50); do
	grep -q "CRL .* reloaded" "$(tl_log serve)" && break
	sleep 0.1
done
tl_check "serve reloads the CRL within seconds" \
	grep -q "CRL .* reloaded" "$(tl_log serve)"
tl_check "serve is the same process (no restart)" tl_alive serve

if hs after12 1 -tls1_2; then
	tl_check_fail "revoked LSC refused (TLS 1.2)"
else
	tl_pass "revoked LSC refused (TLS 1.2)"
fi
if hs after13 1 -tls1_3; then
	tl_check_fail "revoked LSC refused (TLS 1.3)"
else
	tl_pass "revoked LSC refused (TLS 1.3)"
fi
tl_check "... with a certificate alert" \
	grep -Eqi "alert (certificate revoked|bad certificate|certificate unknown)|certificate (revoked|rejected)" \
	"$D/after12.out"
tl_check "device 2's LSC still accepted" hs other 2 -tls1_2

# A damaged file: the reload is refused, the CRL in force stays.
cp "$site/pki/crl.pem" "$D/crl.good"
printf -- '-----BEGIN X509 CRL-----\nnot base64\n-----END X509 CRL-----\n' \
	>"$site/pki/crl.tmp" && mv "$site/pki/crl.tmp" "$site/pki/crl.pem"
for _ in $(seq 50); do
	grep -q "CRL .* not reloaded" "$(tl_log serve)" && break
	sleep 0.1
done
tl_check "a damaged CRL is not loaded (logged)" \
	grep -q "CRL .* not reloaded" "$(tl_log serve)"
if hs damaged 1 -tls1_2; then
	tl_check_fail "revoked LSC still refused after a damaged CRL"
else
	tl_pass "revoked LSC still refused after a damaged CRL"
fi
cp "$D/crl.good" "$site/pki/crl.pem"

tl_check "serve stops cleanly" tl_stop serve
tl_summary
