#!/usr/bin/env bash
# EST (RFC 7030) end to end: `trustline serve` with a real site (token CA),
# curl as the EST client over real HTTPS, openssl making the CSRs and
# checking what comes back. Every auth mode of the engine, and every
# failure path gives its status and issues nothing.
set -uo pipefail

: "${TL_BIN:?TL_BIN must name the trustline binary}"
. "$(dirname "$0")/lib.sh"
for tool in openssl curl jq; do
	command -v "$tool" >/dev/null || { echo "SKIP: no $tool"; exit 0; }
done
[ -f /usr/lib/softhsm/libsofthsm2.so ] || { echo "SKIP: no SoftHSM2"; exit 0; }
tl_deadline 300 2>/dev/null
unset SOFTHSM2_CONF

work=$(tl_tmpdir)
site=$work/site
T() { "$TL_BIN" "$@"; }
base=$(tl_free_port 37200 7 400) || tl_fail "no free ports"
T init --site "$site" --base-port "$base" --host 127.0.0.1 >/dev/null \
	2>"$work/init.log" || tl_fail "init: $(tail -1 "$work/init.log")"
est=$((base + 6))
CA=$site/pki/ca.crt
URL=https://127.0.0.1:$est/.well-known/est
tl_start serve "$TL_BIN" serve --site "$site" --no-tftp --no-http
tl_wait_port tcp 127.0.0.1 "$est" 20 || tl_fail "EST does not listen"

lsc_count() {
	T ca list --site "$site" --profile lsc --json | jq length
}
dev() { # dev MAC
	T device add --site "$site" --mac "$1" >/dev/null
}
set_op() { # set_op MAC OP AUTH [more capf set options]
	local mac=$1 op=$2 auth=$3
	shift 3
	T capf set --site "$site" --device "SEP$mac" --op "$op" --auth "$auth" \
		"$@" >/dev/null
}
# csr NAME CN [openssl req options...]: $work/NAME.b64 and NAME.key
csr() {
	local name=$1 cn=$2
	shift 2
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$work/$name.key" -subj "/CN=$cn" -outform DER \
		-out "$work/$name.der" "$@" 2>/dev/null
	base64 "$work/$name.der" >"$work/$name.b64"
}
# post OP NAME [curl options...]: prints the status, body in NAME.out,
# headers in NAME.hdr
post() {
	local op=$1 name=$2
	shift 2
	curl -sS --max-time 10 --cacert "$CA" -o "$work/$name.out" \
		-D "$work/$name.hdr" -w '%{http_code}' "$@" \
		-H 'Content-Type: application/pkcs10' \
		--data-binary "@$work/$name.b64" "$URL/$op"
}
# cert_of NAME: the certificate of a 200 answer, PEM, in NAME.crt
cert_of() {
	base64 -d "$work/$1.out" | openssl pkcs7 -inform DER -print_certs \
		-out "$work/$1.crt" 2>/dev/null
}

# ---- cacerts, csrattrs, paths, methods ----
code=$(curl -sS --cacert "$CA" -D "$work/ca.hdr" -o "$work/ca.out" \
	-w '%{http_code}' "$URL/cacerts")
tl_assert_eq 200 "$code" "GET cacerts"
tl_check "cacerts content type" grep -qi \
	'^Content-Type: application/pkcs7-mime' "$work/ca.hdr"
base64 -d "$work/ca.out" | openssl pkcs7 -inform DER -print_certs \
	-out "$work/ca.pem" 2>/dev/null
tl_check "cacerts holds the site CA" cmp -s \
	<(openssl x509 -in "$work/ca.pem" -outform DER) \
	<(openssl x509 -in "$CA" -outform DER)
code=$(curl -sS --cacert "$CA" -D "$work/at.hdr" -o "$work/at.out" \
	-w '%{http_code}' "$URL/csrattrs")
tl_assert_eq 200 "$code" "GET csrattrs"
tl_check "csrattrs content type" grep -qi \
	'^Content-Type: application/csrattrs' "$work/at.hdr"
tl_check "csrattrs asks for P-256" grep -q prime256v1 \
	<(base64 -d "$work/at.out" | openssl asn1parse -inform DER)
tl_assert_eq 404 "$(curl -sS --cacert "$CA" -o /dev/null -w '%{http_code}' \
	"$URL/serverkeygen")" "unknown EST operation"
tl_assert_eq 404 "$(curl -sS --cacert "$CA" -o /dev/null -w '%{http_code}' \
	"https://127.0.0.1:$est/other")" "path outside /.well-known/est"
tl_assert_eq 405 "$(curl -sS --cacert "$CA" -o /dev/null -w '%{http_code}' \
	"$URL/simpleenroll")" "GET simpleenroll"

# ---- null mode ----
dev 0000000E0001
set_op 0000000E0001 install null --by +1d
csr a SEP0000000E0001
n0=$(lsc_count)
tl_assert_eq 415 "$(post simpleenroll a -H 'Content-Type: text/plain')" \
	"wrong content type"
tl_assert_eq 200 "$(post simpleenroll a)" "null mode: simpleenroll"
tl_check "answer is pkcs7-mime certs-only" grep -qi \
	'^Content-Type: application/pkcs7-mime; smime-type=certs-only' \
	"$work/a.hdr"
cert_of a
tl_check "the LSC chains to the site CA" openssl verify -CAfile "$CA" \
	"$work/a.crt"
tl_check "the LSC names the device" grep -q 'CN = SEP0000000E0001' \
	<(openssl x509 -in "$work/a.crt" -noout -subject)
tl_check "the LSC holds the CSR's key" cmp -s \
	<(openssl x509 -in "$work/a.crt" -noout -pubkey) \
	<(openssl pkey -in "$work/a.key" -pubout)
tl_assert_eq $((n0 + 1)) "$(lsc_count)" "one LSC recorded"
tl_assert_eq none "$(T capf status --site "$site" --device SEP0000000E0001 \
	--json | jq -r .op)" "operation cleared"
tl_assert_eq "$(openssl x509 -in "$work/a.crt" -noout -serial | cut -d= -f2 |
	tr A-F a-f)" "$(T capf status --site "$site" --device SEP0000000E0001 \
	--json | jq -r .cert_serial)" "it is the device certificate"
tl_assert_eq 403 "$(post simpleenroll a)" "no operation pending: 403"

# ---- auth string ----
dev 0000000E0002
set_op 0000000E0002 install string --string 271828
csr b SEP0000000E0002
n0=$(lsc_count)
tl_assert_eq 401 "$(post simpleenroll b)" "auth string needed: 401"
tl_check "401 has WWW-Authenticate" grep -qi '^WWW-Authenticate: Basic' \
	"$work/b.hdr"
tl_assert_eq 401 "$(post simpleenroll b -u SEP0000000E0002:999999)" \
	"wrong auth string: 401"
tl_assert_eq 403 "$(post simpleenroll b -u SEP0000000E0001:271828)" \
	"user names another device: 403"
tl_assert_eq "$n0" "$(lsc_count)" "nothing issued"
tl_assert_eq 200 "$(post simpleenroll b -u SEP0000000E0002:271828)" \
	"right auth string (HTTP Basic): 200"
tl_assert_eq 401 "$(post simpleenroll b -u SEP0000000E0002:271828)" \
	"the string was for one use"
set_op 0000000E0002 install string --string 161803
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$work/c.key" -outform DER -out "$work/c.der" \
	-config <(printf '%s\n' '[req]' 'prompt=no' 'distinguished_name=dn' \
	'attributes=attr' '[dn]' 'CN=SEP0000000E0002' '[attr]' \
	'challengePassword=161803') 2>/dev/null
base64 "$work/c.der" >"$work/c.b64"
tl_assert_eq 200 "$(post simpleenroll c)" \
	"right auth string (CSR challengePassword): 200"
tl_assert_eq $((n0 + 2)) "$(lsc_count)" "two LSCs recorded"

# ---- failure paths: nothing issued ----
dev 0000000E0003
set_op 0000000E0003 install null
n0=$(lsc_count)
csr d SEP0000000E0004
tl_assert_eq 403 "$(post simpleenroll d)" "CSR for an unknown device: 403"
csr d SEP0000000E0001
tl_assert_eq 403 "$(post simpleenroll d)" \
	"CSR for another device (no operation): 403"
set_op 0000000E0003 install null --by "$(($(date +%s) - 60))"
csr e SEP0000000E0003
tl_assert_eq 403 "$(post simpleenroll e)" "expired operation: 403"
set_op 0000000E0003 none null
tl_assert_eq 403 "$(post simpleenroll e)" "absent operation: 403"
set_op 0000000E0003 install null
# flip a byte of the signature: proof of possession fails
python3 - "$work/e.der" "$work/bad.der" <<'PY'
import sys
d = bytearray(open(sys.argv[1], 'rb').read())
d[-3] ^= 0x01
open(sys.argv[2], 'wb').write(d)
PY
base64 "$work/bad.der" >"$work/bad.b64"
tl_assert_eq 400 "$(post simpleenroll bad)" "bad CSR signature: 400"
printf 'not base64 at all!\n' >"$work/junk.b64"
tl_assert_eq 400 "$(post simpleenroll junk)" "not base64: 400"
base64 <<<"hello" >"$work/junk.b64"
tl_assert_eq 400 "$(post simpleenroll junk)" "not a CSR: 400"
openssl req -new -newkey rsa:1024 -nodes -keyout "$work/w.key" \
	-subj /CN=SEP0000000E0003 -outform DER -out "$work/w.der" 2>/dev/null
base64 "$work/w.der" >"$work/w.b64"
tl_assert_eq 403 "$(post simpleenroll w)" "weak key (RSA-1024): 403"
tl_assert_eq "$n0" "$(lsc_count)" "no failure issued anything"
tl_assert_eq install "$(T capf status --site "$site" --device \
	SEP0000000E0003 --json | jq -r .op)" "operation still pending"

# ---- LSC mode with the client certificate; reenroll; revoked ----
set_op 0000000E0001 upgrade lsc
csr f SEP0000000E0001
tl_assert_eq 403 "$(post simpleenroll f)" "LSC mode without a certificate"
tl_assert_eq 200 "$(post simpleenroll f --cert "$work/a.crt" \
	--key "$work/a.key")" "LSC mode with the LSC: 200"
cert_of f
set_op 0000000E0001 upgrade lsc
csr g SEP0000000E0001
tl_assert_eq 403 "$(post simpleenroll g --cert "$work/a.crt" \
	--key "$work/a.key")" "the superseded (revoked) LSC: 403"
tl_check "it is revoked in the CRL" bash -c "openssl verify -crl_check \
	-CAfile '$CA' -CRLfile '$site/pki/crl.pem' '$work/a.crt' 2>&1 |
	grep -q revoked"
tl_assert_eq 403 "$(post simplereenroll g)" \
	"simplereenroll without a certificate"
tl_assert_eq 200 "$(post simplereenroll g --cert "$work/f.crt" \
	--key "$work/f.key")" "simplereenroll with the current LSC: 200"

# ---- MIC mode ----
dev 0000000E0005
set_op 0000000E0005 install mic
mkdir -p "$work/mic"
T mfg issue --site "$site" --mac 0000000E0005 --out "$work/mic" >/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$work/rogue-ca.key" -out "$work/rogue-ca.crt" -days 1 \
	-subj "/CN=Rogue Manufacturer" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$work/rogue.key" -subj /CN=SEP0000000E0005 \
	-out "$work/rogue.csr" 2>/dev/null
openssl x509 -req -in "$work/rogue.csr" -CA "$work/rogue-ca.crt" \
	-CAkey "$work/rogue-ca.key" -CAcreateserial -days 1 \
	-extfile <(printf 'extendedKeyUsage=clientAuth\n') \
	-out "$work/rogue.crt" 2>/dev/null
csr h SEP0000000E0005
n0=$(lsc_count)
tl_assert_eq 403 "$(post simpleenroll h --cert "$work/rogue.crt" \
	--key "$work/rogue.key")" "MIC from an unknown manufacturer CA: 403"
tl_assert_eq 403 "$(post simpleenroll h --cert "$work/f.crt" \
	--key "$work/f.key")" "another device's certificate: 403"
tl_assert_eq "$n0" "$(lsc_count)" "nothing issued"
tl_assert_eq 200 "$(post simpleenroll h \
	--cert "$work/mic/SEP0000000E0005.crt" \
	--key "$work/mic/SEP0000000E0005.key")" "MIC mode with the MIC: 200"

tl_check "serve is still up" tl_alive serve
tl_stop serve
tl_summary
