#!/usr/bin/env bash
# Trust files end to end with the trustline binary: a site with a CA,
# service certificates and two real SoftHSM2 SAST tokens (made here), then
# ctl build/sign/show/verify, sign/verify, encrypt-config/decrypt-config,
# revocation, expiry and bad input. No network: nothing listens.
set -euo pipefail

: "${TL_BIN:?TL_BIN must name the trustline binary}"
MODULE=${TL_PKCS11_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
for tool in openssl softhsm2-util pkcs11-tool; do
	command -v "$tool" >/dev/null || { echo "FAIL: no $tool (scripts/deps installs it)" >&2; exit 1; }
done
[ -f "$MODULE" ] || { echo "FAIL: no PKCS#11 module $MODULE" >&2; exit 1; }

work=$(mktemp -d)
cleanup() { rm -rf "$work"; }
trap cleanup EXIT

site=$work/site
mkdir -p "$site/pki" "$site/tokens/store" "$site/tftp"
export SOFTHSM2_CONF=$site/tokens/softhsm2.conf
printf 'directories.tokendir = %s\nobjectstore.backend = file\n' \
	"$site/tokens/store" >"$SOFTHSM2_CONF"

pass=0
ok() { pass=$((pass + 1)); echo "ok $pass - $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
# expect_fail DESC CMD...: must exit 1 with exactly one line on stderr
expect_fail() {
	local desc=$1 rc=0
	shift
	"$@" >"$work/out" 2>"$work/err" || rc=$?
	[ "$rc" -eq 1 ] || fail "$desc: exit $rc, want 1"
	[ "$(wc -l <"$work/err")" -eq 1 ] || { cat "$work/err"; fail "$desc: stderr not one line"; }
	grep -q '^trustline ' "$work/err" || fail "$desc: message format"
	ok "$desc refused: $(cat "$work/err")"
}

cd "$work"
# --- the site's CA and RSA-2048 service certificates -------------------
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$site/pki/ca.key" \
	-out "$site/pki/ca.crt" -days 30 -subj "/O=Trust Test/CN=Test CA" \
	2>/dev/null
issue() { # name cn [extra openssl x509 args]
	local n=$1 cn=$2
	shift 2
	openssl req -newkey rsa:2048 -nodes -keyout "$site/pki/$n.key" \
		-out "$work/$n.csr" -subj "/O=Trust Test/CN=$cn" 2>/dev/null
	openssl x509 -req -in "$work/$n.csr" -CA "$site/pki/ca.crt" \
		-CAkey "$site/pki/ca.key" -set_serial "0x$(openssl rand -hex 8)" \
		-days 30 -out "$site/pki/$n.crt" "$@" 2>/dev/null
	chmod 600 "$site/pki/$n.key"
}
issue ccm ccm.test
issue tftp tftp.test
issue capf capf.test

# --- two SAST tokens: non-extractable RSA-2048 keys, CA-issued certs ----
for i in 1 2; do
	pin=$(openssl rand -hex 4)
	printf '%s\n' "$pin" >"$site/tokens/sast$i.pin"
	chmod 600 "$site/tokens/sast$i.pin"
	softhsm2-util --init-token --free --label "SAST$i" --so-pin 87654321 \
		--pin "$pin" >/dev/null
	pkcs11-tool --module "$MODULE" --token-label "SAST$i" --login \
		--pin "$pin" --keypairgen --key-type rsa:2048 --label sast \
		--id 01 >/dev/null 2>&1
	pkcs11-tool --module "$MODULE" --token-label "SAST$i" \
		--read-object --type pubkey --label sast \
		-o "$work/sast$i.pub.der" >/dev/null 2>&1
	openssl pkey -pubin -inform DER -in "$work/sast$i.pub.der" \
		-out "$work/sast$i.pub.pem"
	openssl req -newkey rsa:2048 -nodes -keyout "$work/throwaway.key" \
		-out "$work/sast$i.csr" -subj "/O=Trust Test/CN=SAST$i" \
		2>/dev/null
	openssl x509 -req -in "$work/sast$i.csr" \
		-force_pubkey "$work/sast$i.pub.pem" -CA "$site/pki/ca.crt" \
		-CAkey "$site/pki/ca.key" -set_serial "$((0x5a00 + i))" \
		-days 30 -out "$site/pki/sast$i.crt" 2>/dev/null
done
ok "site with SoftHSM2 tokens SAST1 and SAST2"

# --- help everywhere ----------------------------------------------------
for c in ctl sign verify encrypt-config decrypt-config; do
	"$TL_BIN" "$c" --help | grep -q usage || fail "$c --help"
done
ok "every trust command has --help"

# --- ctl build (SAST1 token), show, verify -------------------------------
"$TL_BIN" ctl build --site "$site" >/dev/null
ctl=$site/tftp/CTLFile.tlv
[ -s "$ctl" ] || fail "no CTLFile.tlv"
"$TL_BIN" ctl show --site "$site" --json >"$work/show.json"
python3 - "$work/show.json" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
roles = [r["role"] for r in j["records"]]
assert roles == ["SAST", "SAST", "CCM", "TFTP", "CAPF"], roles
assert j["version"] == "1.2" and j["signer_version"] == "1.0", j
assert j["hash"] == "sha512" and j["signature_bits"] == 2048, j
assert j["signer"]["name"] == "O=Trust Test;CN=SAST1", j["signer"]
assert j["signer"]["serial"] == "5a01", j["signer"]
EOF
ok "ctl build lists 2 SASTs + CCM, TFTP, CAPF; signed by SAST1"
"$TL_BIN" ctl show "$ctl" | grep -q '^\[3\] TFTP' || fail "show text"
"$TL_BIN" ctl build --site "$site" --itl >/dev/null
"$TL_BIN" ctl show "$site/tftp/ITLFile.tlv" --json >"$work/itl.json"
python3 - "$work/itl.json" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
assert j["filename"] == "ITLFile.tlv", j["filename"]
assert [r["role"] for r in j["records"]] == ["SAST", "CCM", "TFTP", "CAPF"]
EOF
"$TL_BIN" ctl verify "$site/tftp/ITLFile.tlv" --first-use >/dev/null
ok "ITL: same format, SAST1 + CCM, TFTP, CAPF"
"$TL_BIN" ctl verify "$ctl" --first-use >/dev/null
ok "first CTL accepted on first use"
rc=0
"$TL_BIN" ctl verify "$ctl" >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "verify without --previous/--first-use: $rc"
ok "verify needs --previous or --first-use"

# --- rotation: re-sign with SAST2 (listed in the previous CTL) -----------
"$TL_BIN" ctl sign "$ctl" --site "$site" --token 2 --out "$work/ctl2.tlv" \
	>/dev/null
"$TL_BIN" ctl verify "$work/ctl2.tlv" --previous "$ctl" >/dev/null
"$TL_BIN" ctl show "$work/ctl2.tlv" --json |
	grep -q '"name": "O=Trust Test;CN=SAST2"' || fail "signer SAST2"
ok "CTL re-signed by SAST2 accepted against the previous CTL"
"$TL_BIN" ctl sign "$ctl" --site "$site" --token 2 \
	--pin-file "$site/tokens/sast2.pin" --out "$work/ctl2b.tlv" >/dev/null
ok "--pin-file"

# A CTL that knows only SAST1; a CTL signed by SAST2 must be refused.
"$TL_BIN" ctl build --site "$site" --no-site-certs --single-sast \
	--add "SAST:$site/pki/sast1.crt" --add "TFTP:$site/pki/tftp.crt" \
	--out "$work/only1.tlv" >/dev/null
"$TL_BIN" ctl build --site "$site" --no-site-certs --single-sast --token 2 \
	--add "SAST:$site/pki/sast2.crt" --add "TFTP:$site/pki/tftp.crt" \
	--out "$work/only2.tlv" >/dev/null
expect_fail "CTL signed by an unlisted SAST" \
	"$TL_BIN" ctl verify "$work/only2.tlv" --previous "$work/only1.tlv"
expect_fail "mixed-mode CTL with one SAST" \
	"$TL_BIN" ctl build --site "$site" --no-site-certs \
	--add "SAST:$site/pki/sast1.crt" --out "$work/x.tlv"
expect_fail "three SASTs" \
	"$TL_BIN" ctl build --site "$site" --add "SAST:$site/pki/ccm.crt" \
	--out "$work/x.tlv"
expect_fail "wrong PIN" \
	"$TL_BIN" ctl build --site "$site" --pin 0000 --out "$work/x.tlv"
[ ! -e "$work/x.tlv" ] || fail "a refused build left a file"

# --- expiry and revocation of the SAST ----------------------------------
expect_fail "expired SAST" \
	"$TL_BIN" ctl verify "$ctl" --first-use --at 4102444800
mkdir -p "$work/ca"
: >"$work/ca/index.txt"
cat >"$work/ca.cnf" <<EOF
[ca]
default_ca = test
[test]
database = $work/ca/index.txt
certificate = $site/pki/ca.crt
private_key = $site/pki/ca.key
default_md = sha256
default_crl_days = 7
EOF
openssl ca -config "$work/ca.cnf" -revoke "$site/pki/sast1.crt" \
	>/dev/null 2>&1
openssl ca -config "$work/ca.cnf" -revoke "$site/pki/tftp.crt" \
	>/dev/null 2>&1
openssl ca -config "$work/ca.cnf" -gencrl -out "$work/crl.pem" \
	>/dev/null 2>&1
expect_fail "revoked SAST" \
	"$TL_BIN" ctl verify "$ctl" --first-use --crl "$work/crl.pem"

# --- signed config ------------------------------------------------------
printf '<device><deviceSecurityMode>2</deviceSecurityMode></device>\n' \
	>"$work/SEP001122334455.cnf.xml"
"$TL_BIN" sign "$work/SEP001122334455.cnf.xml" --site "$site" >/dev/null
sgn=$work/SEP001122334455.cnf.xml.sgn
"$TL_BIN" verify "$sgn" --ctl "$ctl" --strip "$work/stripped" >/dev/null
cmp -s "$work/stripped" "$work/SEP001122334455.cnf.xml" || fail "strip"
ok ".sgn signed with pki/tftp.key verifies; --strip gives the original"
"$TL_BIN" verify "$sgn" --ctl "$ctl" --json | grep -q '"valid": true' ||
	fail "verify --json"
expect_fail "revoked TFTP signer" \
	"$TL_BIN" verify "$sgn" --ctl "$ctl" --crl "$work/crl.pem"
"$TL_BIN" sign "$work/SEP001122334455.cnf.xml" --site "$site" --role ccm \
	--out "$work/ccm.sgn" >/dev/null
expect_fail ".sgn signed by the CCM (not TFTP) key" \
	"$TL_BIN" verify "$work/ccm.sgn" --ctl "$ctl"
cp "$sgn" "$work/tampered.sgn"
printf 'X' | dd of="$work/tampered.sgn" bs=1 seek=$(($(stat -c %s "$sgn") - 5)) \
	conv=notrunc 2>/dev/null
expect_fail "tampered .sgn" "$TL_BIN" verify "$work/tampered.sgn" --ctl "$ctl"

# --- encrypted config: RSA (Cisco) and EC P-256 (ours) device certs ------
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/dev-rsa.key" \
	-out "$work/dev-rsa.crt" -days 30 -subj "/CN=SEP001122334455" 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$work/dev-ec.key" -out "$work/dev-ec.crt" -days 30 \
	-subj "/CN=SEP0011223344EE" 2>/dev/null
for kind in rsa ec; do
	"$TL_BIN" encrypt-config --site "$site" --cert "$work/dev-$kind.crt" \
		"$work/SEP001122334455.cnf.xml" --out "$work/$kind.cnf.xml.enc.sgn" \
		--json >"$work/enc.json"
	want=$(openssl x509 -in "$work/dev-$kind.crt" -outform DER |
		openssl dgst -md5 -r | cut -d' ' -f1)
	grep -q "\"certHash\": \"$want\"" "$work/enc.json" || fail "certHash"
	"$TL_BIN" verify "$work/$kind.cnf.xml.enc.sgn" --ctl "$ctl" >/dev/null
	"$TL_BIN" decrypt-config --key "$work/dev-$kind.key" --ctl "$ctl" \
		"$work/$kind.cnf.xml.enc.sgn" --out "$work/$kind.plain" >/dev/null
	cmp -s "$work/$kind.plain" "$work/SEP001122334455.cnf.xml" ||
		fail "decrypt $kind"
	[ "$(stat -c %a "$work/$kind.plain")" = 600 ] || fail "mode"
	ok "encrypt-config/decrypt-config round trip ($kind device)"
done
expect_fail "decrypt with the wrong device key" \
	"$TL_BIN" decrypt-config --key "$work/dev-ec.key" --ctl "$ctl" \
	"$work/rsa.cnf.xml.enc.sgn" --out "$work/nope"
[ ! -e "$work/nope" ] || fail "a refused decrypt left a file"

# --- bad input ------------------------------------------------------------
head -c 100 "$ctl" >"$work/trunc.tlv"
expect_fail "truncated CTL" "$TL_BIN" ctl show "$work/trunc.tlv"
cat "$ctl" >"$work/trail.tlv"
printf '\0' >>"$work/trail.tlv"
expect_fail "CTL with a trailing byte" "$TL_BIN" ctl show "$work/trail.tlv"
expect_fail "missing file" "$TL_BIN" ctl show "$work/none.tlv"
expect_fail ".sgn given as CTL" "$TL_BIN" verify "$sgn" --ctl "$sgn"
rc=0
"$TL_BIN" ctl frobnicate >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "unknown subcommand: $rc"
ok "unknown subcommand is a usage error"

echo "trust_ctl: $pass checks passed"
