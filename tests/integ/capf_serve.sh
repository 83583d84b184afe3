#!/usr/bin/env bash
# The CAPF protocol end to end with processes: `trustline serve` (token CA)
# and `trustline capf enroll` as the phone, for each auth mode and each
# operation; openssl checks the LSCs and the CRL; a peer that speaks
# something else is dropped.
set -uo pipefail

: "${TL_BIN:?TL_BIN must name the trustline binary}"
. "$(dirname "$0")/lib.sh"
for tool in openssl jq; do
	command -v "$tool" >/dev/null || { echo "SKIP: no $tool"; exit 0; }
done
[ -f /usr/lib/softhsm/libsofthsm2.so ] || { echo "SKIP: no SoftHSM2"; exit 0; }
tl_deadline 300 2>/dev/null
unset SOFTHSM2_CONF

work=$(tl_tmpdir)
site=$work/site
T() { "$TL_BIN" "$@"; }
base=$(tl_free_port 37500 7 400) || tl_fail "no free ports"
T init --site "$site" --base-port "$base" --host 127.0.0.1 >/dev/null \
	2>"$work/init.log" || tl_fail "init: $(tail -1 "$work/init.log")"
capf=$((base + 4))
CA=$site/pki/ca.crt
tl_start serve "$TL_BIN" serve --site "$site" --no-tftp --no-http
tl_wait_port tcp 127.0.0.1 "$capf" 20 || tl_fail "CAPF does not listen"

lsc_count() {
	T ca list --site "$site" --profile lsc --json | jq length
}
# phone NAME MAC [capf enroll options]: the client, output in NAME.json
phone() {
	local name=$1 mac=$2
	shift 2
	mkdir -p "$work/$name"
	T capf enroll --server "127.0.0.1:$capf" --device "SEP$mac" --ca "$CA" \
		--out "$work/$name" --json "$@" >"$work/$name.json" \
		2>"$work/$name.err"
}
result() { jq -r .result "$work/$1.json"; }
# refused NAME MAC [options]: the session fails and the client says why
refused() {
	! phone "$@" && [ "$(result "$1")" = failed ] && [ -s "$work/$1.err" ]
}
status() { T capf status --site "$site" --device "SEP$1" --json | jq -r ".$2"; }

# ---- usage errors: one line, exit 2 ----
for args in "set --device SEP00 --op install" \
	"set --device SEP0000000C0001 --op bogus" \
	"set --device SEP0000000C0001 --op install --auth nope" \
	"set --device SEP0000000C0001 --op install --auth string --string 12" \
	"set --device SEP0000000C0001 --op install --by tomorrow" \
	"enroll --server 127.0.0.1:1"; do
	rc=0
	T capf $args --site "$site" >/dev/null 2>"$work/usage.err" || rc=$?
	tl_assert_eq 2 "$rc" "capf $args: usage error"
	tl_assert_eq 1 "$(wc -l <"$work/usage.err")" "capf $args: one line"
done
tl_check "capf --help" bash -c "'$TL_BIN' capf --help >/dev/null"

# ---- null mode install ----
for m in 0000000C0001 0000000C0002 0000000C0003; do
	T device add --site "$site" --mac "$m" >/dev/null
done
T capf set --site "$site" --device SEP0000000C0001 --op install --auth null \
	--by +1h >/dev/null
n0=$(lsc_count)
tl_check "null mode: session ok" phone p1 0000000C0001
tl_assert_eq installed "$(result p1)" "null mode: installed"
tl_check "LSC chains to the site CA" openssl verify -CAfile "$CA" \
	"$work/p1/lsc.crt"
tl_assert_eq 600 "$(stat -c %a "$work/p1/lsc.key")" "the key is 0600"
tl_assert_eq 600 "$(stat -c %a "$work/p1/lsc.crt")" "the LSC is 0600"
tl_check "the LSC holds the phone's key" cmp -s \
	<(openssl x509 -in "$work/p1/lsc.crt" -noout -pubkey) \
	<(openssl pkey -in "$work/p1/lsc.key" -pubout)
tl_check "the LSC has clientAuth" grep -q "TLS Web Client Authentication" \
	<(openssl x509 -in "$work/p1/lsc.crt" -noout -text)
tl_assert_eq $((n0 + 1)) "$(lsc_count)" "one LSC recorded"
tl_assert_eq none "$(status 0000000C0001 op)" "operation cleared"
tl_check "nothing pending: session ok" phone p1b 0000000C0001
tl_assert_eq none "$(result p1b)" "nothing pending: nothing done"

# ---- auth string ----
T capf set --site "$site" --device SEP0000000C0002 --op install \
	--auth string --string 1234567 >/dev/null
tl_check "wrong auth string refused" refused p2x 0000000C0002 \
	--string 7654321
tl_check "no auth string refused" refused p2y 0000000C0002
tl_assert_eq $((n0 + 1)) "$(lsc_count)" "nothing issued"
tl_check "right auth string" phone p2 0000000C0002 --string 1234567
tl_assert_eq installed "$(result p2)" "auth string: installed"
tl_assert_eq false "$(status 0000000C0002 auth_string_set)" \
	"auth string used up"

# ---- LSC mode (upgrade), then the old LSC is refused ----
T capf set --site "$site" --device SEP0000000C0001 --op upgrade \
	--auth lsc >/dev/null
tl_check "LSC mode without a certificate refused" refused p3x 0000000C0001
tl_check "LSC mode with the LSC" phone p3 0000000C0001 \
	--cert "$work/p1/lsc.crt" --key "$work/p1/lsc.key"
tl_assert_eq installed "$(result p3)" "upgrade: installed"
T capf set --site "$site" --device SEP0000000C0001 --op upgrade \
	--auth lsc >/dev/null
tl_check "the superseded LSC is refused" refused p3y 0000000C0001 \
	--cert "$work/p1/lsc.crt" \
	--key "$work/p1/lsc.key"
tl_check "the CRL revokes it" bash -c "openssl verify -crl_check \
	-CAfile '$CA' -CRLfile '$site/pki/crl.pem' '$work/p1/lsc.crt' 2>&1 |
	grep -q revoked"

# ---- MIC mode ----
mkdir -p "$work/mic"
T mfg issue --site "$site" --mac 0000000C0003 --out "$work/mic" >/dev/null
T capf set --site "$site" --device SEP0000000C0003 --op install \
	--auth mic >/dev/null
tl_check "MIC mode with another device's LSC refused" refused p4x \
	0000000C0003 --cert "$work/p3/lsc.crt" \
	--key "$work/p3/lsc.key"
tl_check "MIC mode with the MIC" phone p4 0000000C0003 \
	--cert "$work/mic/SEP0000000C0003.crt" \
	--key "$work/mic/SEP0000000C0003.key"
tl_assert_eq installed "$(result p4)" "MIC: installed"

# ---- fetch, delete ----
T capf set --site "$site" --device SEP0000000C0003 --op fetch \
	--auth null >/dev/null
tl_check "fetch" phone p4 0000000C0003 --cert "$work/p4/lsc.crt" \
	--key "$work/p4/lsc.key"
tl_assert_eq fetched "$(result p4)" "fetch: our certificate sent"
serial=$(status 0000000C0003 cert_serial)
T capf set --site "$site" --device SEP0000000C0003 --op delete \
	--auth null >/dev/null
tl_check "delete" phone p4 0000000C0003
tl_assert_eq deleted "$(result p4)" "delete: done"
tl_check "the phone dropped its LSC" test ! -e "$work/p4/lsc.crt"
tl_check "the phone dropped its key" test ! -e "$work/p4/lsc.key"
tl_assert_eq "" "$(status 0000000C0003 cert_serial)" \
	"no device certificate any more"
tl_check "the deleted LSC is in the CRL" grep -qi "$serial" \
	<(openssl crl -in "$site/pki/crl.pem" -noout -text | tr -d ':')

# ---- expired operation ----
T capf set --site "$site" --device SEP0000000C0002 --op install --auth null \
	--by "$(($(date +%s) - 5))" >/dev/null
tl_check "expired operation refused" refused p5 0000000C0002
tl_check "status --json lists it as expired" bash -c "'$TL_BIN' capf status \
	--site '$site' --json | jq -e '.[] | select(.device == \
	\"SEP0000000C0002\") | .expired'"

# ---- a peer that is no phone ----
out=$(printf 'GET / HTTP/1.0\r\n\r\n' | timeout 10 openssl s_client -quiet \
	-CAfile "$CA" -connect "127.0.0.1:$capf" 2>/dev/null | head -c 1 | od -An -tx1)
tl_assert_eq " 55" "$out" "the server speaks first (0x55)"
# ---- the certificate the handshake uses: P-256 for a phone that offers
# ECDSA (no RSA signature per handshake), RSA-2048 for one that does not
ec_id=$(openssl x509 -in "$site/pki/capf-ec.crt" -noout -fingerprint -sha256)
rsa_id=$(openssl x509 -in "$site/pki/capf.crt" -noout -fingerprint -sha256)
served() {
	timeout 10 openssl s_client -CAfile "$CA" -connect "127.0.0.1:$capf" \
		"$@" </dev/null 2>/dev/null |
		openssl x509 -noout -fingerprint -sha256 2>/dev/null
}
tl_assert_eq "$ec_id" "$(served)" "CAPF serves capf-ec to an ECDSA client"
tl_assert_eq "$rsa_id" "$(served -sigalgs rsa_pss_rsae_sha256:rsa_pkcs1_sha256)" \
	"CAPF serves the RSA capf.crt to an RSA-only client"
tl_assert_eq 2 "$(T ctl show "$site/tftp/CTLFile.tlv" --json |
	jq '[.records[] | select(.role == "CAPF")] | length')" \
	"the CTL lists both CAPF certificates"
tl_check "serve is still up" tl_alive serve
tl_stop serve

# ---- the key phones are asked for: RSA-2048 for Cisco phones ----
rc=0
T capf key dsa512 --site "$site" >/dev/null 2>&1 || rc=$?
tl_assert_eq 2 "$rc" "capf key refuses an unknown algorithm"
tl_assert_eq p256 "$(T capf key --site "$site")" "default key: P-256"
T capf key rsa2048 --site "$site" >/dev/null
tl_assert_eq rsa2048 "$(T capf key --site "$site" --json | jq -r .key_alg)" \
	"key set to rsa2048"
tl_start serve2 "$TL_BIN" serve --site "$site" --no-tftp --no-http
tl_wait_port tcp 127.0.0.1 "$capf" 20 || tl_fail "CAPF does not listen"
T capf set --site "$site" --device SEP0000000C0002 --op install --auth null \
	--by 0 >/dev/null
tl_check "RSA install" phone p6 0000000C0002 --timeout 20000
tl_check "the LSC holds an RSA-2048 key" grep -q "Public-Key: (2048 bit)" \
	<(openssl x509 -in "$work/p6/lsc.crt" -noout -text)
tl_stop serve2
tl_summary
