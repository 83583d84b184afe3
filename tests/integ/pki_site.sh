#!/usr/bin/env bash
# The PKI end to end with the trustline binary and independent tools:
# `trustline init` makes a site with real SoftHSM2 tokens (in the scratch
# directory), then openssl verifies every chain we issue (server, client,
# LSC, MIC), shows the X.509v3 extensions, parses our CRLs, refuses what we
# revoked; pkcs11-tool shows that the SAST keys cannot leave their tokens
# and makes a token signature that openssl verifies with the certificate.
# Nothing listens on the network.
set -euo pipefail

: "${TL_BIN:?TL_BIN must name the trustline binary}"
. "$(dirname "$0")/lib.sh"
MODULE=${TL_PKCS11_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
for tool in openssl pkcs11-tool jq; do
	command -v "$tool" >/dev/null || { echo "FAIL: no $tool (scripts/deps installs it)" >&2; exit 1; }
done
[ -f "$MODULE" ] || { echo "FAIL: no PKCS#11 module $MODULE" >&2; exit 1; }
# (stderr kept off the deadline timer, so that no sleeper holds the
# caller's pipe open after the script ends)
tl_deadline 300 2>/dev/null

# the site's own token store, as the shared contract says
unset SOFTHSM2_CONF
work=$(tl_tmpdir)
site=$work/site
out=$work/out
mkdir -p "$out"
T() { "$TL_BIN" "$@"; }

# expect_fail RC DESC CMD...: exits RC with one line on stderr
expect_fail() {
	local want=$1 desc=$2 rc=0
	shift 2
	"$@" >"$work/stdout" 2>"$work/stderr" || rc=$?
	if [ "$rc" != "$want" ]; then
		tl_check_fail "$desc: exit $rc, wanted $want"
		return
	fi
	if [ "$(wc -l <"$work/stderr")" != 1 ]; then
		tl_check_fail "$desc: stderr is not one line: $(cat "$work/stderr")"
		return
	fi
	tl_pass "$desc ($(cat "$work/stderr"))"
}

# ---- init ----
tl_check "init creates a site" \
	T init --site "$site" --base-port 27100 --host 127.0.0.1
for f in trustline.conf trustline.db pki/ca.crt pki/crl.pem pki/crl.der \
	pki/ccm.crt pki/ccm.key pki/tftp.crt pki/tftp.key pki/capf.crt \
	pki/capf.key pki/ccm-ec.crt pki/ccm-ec.key pki/capf-ec.crt \
	pki/capf-ec.key pki/mfg-ca.crt \
	pki/sast1.crt pki/sast2.crt tokens/softhsm2.conf tokens/sast1.pin \
	tokens/sast2.pin tftp/CTLFile.tlv; do
	tl_check "init wrote $f" test -s "$site/$f"
done
tl_check "log/ exists" test -d "$site/log"
for k in ccm tftp capf ccm-ec capf-ec mfg-ca; do
	tl_assert_eq 600 "$(stat -c %a "$site/pki/$k.key")" "$k.key is 0600"
done
tl_assert_eq 600 "$(stat -c %a "$site/tokens/sast1.pin")" "sast1.pin is 0600"
tl_check "no CA key file with a token CA" test ! -e "$site/pki/ca.key"
expect_fail 1 "init refuses an existing site" \
	T init --site "$site" --base-port 27100

P=$site/pki
# ---- server certificates: chain, extensions ----
for c in ccm tftp capf ccm-ec capf-ec; do
	tl_check "openssl verify $c.crt" \
		openssl verify -CAfile "$P/ca.crt" -purpose sslserver "$P/$c.crt"
done
for c in ccm tftp capf; do
	tl_check "$c.crt is RSA-2048" \
		grep -q "Public-Key: (2048 bit)" \
		<(openssl x509 -in "$P/$c.crt" -noout -text)
done
for c in ccm-ec capf-ec; do
	tl_check "$c.crt is P-256" grep -q "prime256v1" \
		<(openssl x509 -in "$P/$c.crt" -noout -text)
done
openssl x509 -in "$P/ccm.crt" -noout -text >"$work/ccm.txt"
tl_check "SAN has an IP" grep -q "IP Address:127.0.0.1" "$work/ccm.txt"
tl_check "SAN has a DNS name" grep -q "DNS:127.0.0.1" "$work/ccm.txt"
tl_check "EKU serverAuth" grep -q "TLS Web Server Authentication" "$work/ccm.txt"
tl_check "KU critical" grep -A1 -q "Key Usage: critical" "$work/ccm.txt"
tl_check "KU digitalSignature+keyEncipherment" \
	grep -q "Digital Signature, Key Encipherment" "$work/ccm.txt"
tl_check "basicConstraints CA:FALSE critical" \
	grep -A1 "Basic Constraints: critical" "$work/ccm.txt" -q
tl_check "SKI" grep -q "Subject Key Identifier" "$work/ccm.txt"
tl_check "AKI" grep -q "Authority Key Identifier" "$work/ccm.txt"
tl_check "CDP on the HTTP port" \
	grep -q "URI:http://127.0.0.1:27103/crl.der" "$work/ccm.txt"
ski=$(openssl x509 -in "$P/ca.crt" -noout -ext subjectKeyIdentifier | tail -1 | tr -d ' ')
aki=$(grep -A1 "Authority Key Identifier" "$work/ccm.txt" | tail -1 | tr -d ' ' | sed 's/^keyid://')
tl_assert_eq "$ski" "$aki" "AKI of ccm.crt is the CA's SKI"
serial_hex=$(openssl x509 -in "$P/ccm.crt" -noout -serial | cut -d= -f2)
tl_check "serial is 128 bits" test "${#serial_hex}" -ge 31
openssl x509 -in "$P/ca.crt" -noout -text >"$work/ca.txt"
tl_check "CA: CA:TRUE" grep -q "CA:TRUE" "$work/ca.txt"
tl_check "CA: keyCertSign, cRLSign" grep -q "Certificate Sign, CRL Sign" "$work/ca.txt"

# ---- issue: client, LSC, server with CSR ----
tl_check "issue client" T ca issue --site "$site" --profile client \
	--cn alice --out "$out"
tl_check "openssl verify client" openssl verify -CAfile "$P/ca.crt" \
	-purpose sslclient "$out/alice.crt"
tl_check "issue lsc" T ca issue --site "$site" --profile lsc \
	--cn SEP001122334455 --out "$out"
tl_check "openssl verify lsc" openssl verify -CAfile "$P/ca.crt" \
	"$out/SEP001122334455.crt"
openssl x509 -in "$out/SEP001122334455.crt" -noout -text >"$work/lsc.txt"
tl_check "LSC subject CN + O from the issuer" \
	grep -q "Subject: O = trustline, CN = SEP001122334455" "$work/lsc.txt"
tl_check "LSC EKU ipsecEndSystem" grep -q "IPSec End System" "$work/lsc.txt"
tl_check "LSC SAN URI" grep -q "URI:SEP001122334455" "$work/lsc.txt"
tl_check "LSC key P-256" grep -q "prime256v1" "$work/lsc.txt"
tl_check "LSC signed SHA-256" grep -q "ecdsa-with-SHA256" "$work/lsc.txt"
openssl req -new -newkey rsa:2048 -nodes -subj /CN=ignored \
	-keyout "$work/csr.key" -out "$work/csr.pem" 2>/dev/null
tl_check "issue server from a CSR" T ca issue --site "$site" \
	--profile server --cn sip.example --dns sip.example --ip 127.0.0.1 \
	--ip ::1 --csr "$work/csr.pem" --cert "$out/sip.crt"
tl_check "CSR issue writes no key" test ! -e "$out/sip.key"
tl_check "openssl verify CSR server" openssl verify -CAfile "$P/ca.crt" \
	-purpose sslserver "$out/sip.crt"
tl_assert_eq "$(openssl x509 -in "$out/sip.crt" -noout -pubkey | openssl sha256)" \
	"$(openssl pkey -in "$work/csr.key" -pubout | openssl sha256)" \
	"certificate carries the CSR's key"
tl_check "IPv6 SAN" grep -q "IP Address:0:0:0:0:0:0:0:1" \
	<(openssl x509 -in "$out/sip.crt" -noout -text)

# ---- MIC ----
tl_check "mfg issue (P-256)" T mfg issue --site "$site" \
	--mac aa:bb:cc:dd:ee:ff --out "$out"
tl_check "mfg issue (RSA-2048)" T mfg issue --site "$site" \
	--mac 001122AABBCC --key rsa2048 --out "$out"
tl_check "openssl verify MIC chains" openssl verify \
	-CAfile "$P/mfg-ca.crt" "$out/SEPAABBCCDDEEFF.crt" "$out/SEP001122AABBCC.crt"
tl_check "MIC subject CN=SEP<MAC>" grep -q "CN = SEPAABBCCDDEEFF" \
	<(openssl x509 -in "$out/SEPAABBCCDDEEFF.crt" -noout -subject)
tl_assert_eq 600 "$(stat -c %a "$out/SEPAABBCCDDEEFF.key")" "MIC key is 0600"
tl_check "a MIC does not chain to the site CA" \
	bash -c "! openssl verify -CAfile '$P/ca.crt' '$out/SEPAABBCCDDEEFF.crt' 2>/dev/null"

# ---- revoke, CRL ----
lsc_serial=$(openssl x509 -in "$out/SEP001122334455.crt" -noout -serial | cut -d= -f2)
tl_check "revoke the LSC" T ca revoke --site "$site" --serial "$lsc_serial" \
	--reason keyCompromise
tl_check "openssl crl parses crl.pem" openssl crl -in "$P/crl.pem" -noout
tl_check "openssl crl parses crl.der" openssl crl -inform DER -in "$P/crl.der" -noout
tl_check "CRL lists the revoked serial" grep -q "Serial Number: $lsc_serial" \
	<(openssl crl -in "$P/crl.pem" -noout -text)
tl_check "CRL reason" grep -q "Key Compromise" \
	<(openssl crl -in "$P/crl.pem" -noout -text)
tl_check "CRL verifies with the CA key" openssl crl -in "$P/crl.pem" \
	-CAfile "$P/ca.crt" -noout
cat "$P/ca.crt" "$P/crl.pem" >"$work/ca+crl.pem"
tl_check "openssl refuses the revoked LSC" bash -c \
	"openssl verify -crl_check -CAfile '$work/ca+crl.pem' '$out/SEP001122334455.crt' 2>&1 | grep -q 'certificate revoked'"
tl_check "openssl accepts a valid cert with the CRL" openssl verify \
	-crl_check -CAfile "$work/ca+crl.pem" "$out/alice.crt"
expect_fail 1 "revoking twice" T ca revoke --site "$site" --serial "$lsc_serial"
expect_fail 1 "revoking an unknown serial" T ca revoke --site "$site" --serial 01
expect_fail 2 "revoking a non-hex serial" T ca revoke --site "$site" --serial xyz
n1=$(openssl crl -in "$P/crl.pem" -noout -crlnumber | cut -d= -f2)
tl_check "ca crl" T ca crl --site "$site" --json
n2=$(openssl crl -in "$P/crl.pem" -noout -crlnumber | cut -d= -f2)
tl_check "CRL number grows ($n1 -> $n2)" test $((16#${n2#0x})) -gt $((16#${n1#0x}))

# ---- list, show ----
T ca list --site "$site" --json >"$work/list.json"
tl_assert_eq revoked "$(jq -r ".[] | select(.serial == \"$(echo "$lsc_serial" | tr A-F a-f)\") | .status" "$work/list.json")" \
	"ca list shows the LSC revoked"
tl_assert_eq 2 "$(jq '[.[] | select(.profile == "sast")] | length' "$work/list.json")" \
	"two SAST certificates recorded"
tl_assert_eq 2 "$(jq '[.[] | select(.profile == "mic")] | length' "$work/list.json")" \
	"two MICs recorded"
tl_check "ca show --cert" T ca show --site "$site" --cert "$out/alice.crt"
tl_assert_eq client "$(T ca show --site "$site" --cert "$out/alice.crt" --json | jq -r .profile)" \
	"ca show --json profile"

# ---- tokens ----
T token list --site "$site" --json >"$work/tokens.json"
for l in SAST1 SAST2 CA; do
	tl_assert_eq true "$(jq -r ".[] | select(.label == \"$l\") | .has_key" "$work/tokens.json")" \
		"token $l holds a key"
done
tl_assert_eq "$(openssl x509 -in "$P/sast1.crt" -noout -serial | cut -d= -f2 | tr A-F a-f)" \
	"$(jq -r '.[] | select(.label == "SAST1") | .cert_serial' "$work/tokens.json")" \
	"the certificate in token SAST1 is pki/sast1.crt"
export SOFTHSM2_CONF=$site/tokens/softhsm2.conf
pin=$(cat "$site/tokens/sast1.pin")
timeout 30 pkcs11-tool --module "$MODULE" --token-label SAST1 --login \
	--pin "$pin" --list-objects --type privkey >"$work/privkey.txt" 2>&1 \
	</dev/null
tl_check "SAST private key is never extractable" \
	grep -q "never extractable" "$work/privkey.txt"
tl_check "SAST private key is sensitive" grep -q "sensitive" "$work/privkey.txt"
P11() { timeout 30 pkcs11-tool --module "$MODULE" "$@" </dev/null; }
P11 --token-label SAST1 --login --pin "$pin" --read-object --type privkey \
	--label sast -o "$work/stolen" >/dev/null 2>&1 || true
tl_check "pkcs11-tool cannot read the SAST private key" test ! -s "$work/stolen"
printf 'bytes a phone will check' >"$work/msg"
tl_check "token signs (CKM_SHA256_RSA_PKCS)" P11 \
	--token-label SAST1 --login --pin "$pin" --sign --mechanism SHA256-RSA-PKCS \
	--label sast -i "$work/msg" -o "$work/msg.sig"
openssl x509 -in "$P/sast1.crt" -noout -pubkey >"$work/sast1.pub"
tl_check "openssl verifies the token's signature with pki/sast1.crt" \
	openssl dgst -sha256 -verify "$work/sast1.pub" -signature "$work/msg.sig" "$work/msg"
tl_check "SAST certificate is self-signed by the token key" \
	openssl verify -CAfile "$P/sast1.crt" -partial_chain "$P/sast1.crt"
unset SOFTHSM2_CONF
tl_check "token init SAST3" T token init --site "$site" --label SAST3 \
	--pin 1234abcd --so-pin 5678efgh
tl_check "pki/sast3.crt written" test -s "$P/sast3.crt"
expect_fail 1 "token init with an existing label" \
	T token init --site "$site" --label SAST3 --pin 1234abcd --so-pin 5678efgh
expect_fail 2 "token init with a bad label" \
	T token init --site "$site" --label "../x" --pin 1234abcd

# ---- bad input: one line, no half-written files ----
expect_fail 2 "ca issue without --profile" T ca issue --site "$site" --cn x --out "$out"
expect_fail 2 "ca issue with a CA profile" T ca issue --site "$site" --profile ca --cn x --out "$out"
expect_fail 1 "ca issue over an existing file" T ca issue --site "$site" \
	--profile client --cn alice --out "$out"
expect_fail 1 "ca issue with a bad IP" T ca issue --site "$site" \
	--profile server --cn bad --ip 300.1.1.1 --out "$out"
tl_check "no files left by a refused issue" test ! -e "$out/bad.crt" -a ! -e "$out/bad.key"
printf 'garbage' >"$work/bad.csr"
expect_fail 1 "ca issue with a bad CSR" T ca issue --site "$site" \
	--profile server --cn bad2 --csr "$work/bad.csr" --cert "$out/bad2.crt"
expect_fail 2 "mfg issue with a bad MAC" T mfg issue --site "$site" --mac 12:34 --out "$out"
expect_fail 2 "ca with an unknown option" T ca list --site "$site" --bogus
expect_fail 1 "ca on a missing site" T ca list --site "$work/nosite"
tl_check "every command has --help" bash -c \
	"'$TL_BIN' init --help >/dev/null && '$TL_BIN' ca --help >/dev/null && '$TL_BIN' mfg --help >/dev/null && '$TL_BIN' token --help >/dev/null"

# ---- a file CA, and a failed init leaves nothing behind ----
tl_check "init --ca-key file" T init --site "$work/site2" --base-port 27200 \
	--ca-key file --ca-alg rsa2048 --json
tl_assert_eq 600 "$(stat -c %a "$work/site2/pki/ca.key")" "file CA key is 0600"
tl_check "file CA issues" T ca issue --site "$work/site2" --profile lsc \
	--cn SEP0000000000AA --out "$out"
tl_check "openssl verify with the RSA file CA" openssl verify \
	-CAfile "$work/site2/pki/ca.crt" "$out/SEP0000000000AA.crt"
# init reports progress on stderr: check the exit status and the reason
init_fail() {
	local desc=$1 rc=0
	shift
	T init "$@" >"$work/stdout" 2>"$work/stderr" || rc=$?
	if [ "$rc" = 1 ] && grep -q "failed: removing what was created" "$work/stderr"; then
		tl_pass "$desc"
	else
		tl_check_fail "$desc: exit $rc: $(tail -2 "$work/stderr")"
	fi
}
init_fail "init with a missing PKCS#11 module" --site "$work/site3" \
	--module "$work/no-such-module.so"
tl_check "the failed init removed its directory" test ! -e "$work/site3"
mkdir "$work/site4"
echo keep >"$work/site4/other-file"
init_fail "init in an existing directory, failing" \
	--site "$work/site4" --module "$work/no-such-module.so"
tl_check "only what init created is removed" bash -c \
	"test -f '$work/site4/other-file' && test ! -e '$work/site4/pki' && test ! -e '$work/site4/trustline.conf'"
tl_check "init --force replaces a site" T init --site "$work/site2" \
	--base-port 27200 --force
tl_check "the new CA is not the old one" bash -c \
	"! openssl verify -CAfile '$work/site2/pki/ca.crt' '$out/SEP0000000000AA.crt' 2>/dev/null"

tl_summary
