#!/usr/bin/env bash
# HTTP provisioning (the port-6970 service) with curl against
# `trustline tftp serve --site`: the TFTP root and the site's CRL over
# HTTP GET/HEAD, read-only, traversal refused. Ports 33140-33179.
set -euo pipefail
: "${TL_BIN:?TL_BIN must name the trustline binary}"

work=$(mktemp -d)
pid=
cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	[ -f "$work/srv.log" ] && sed 's/^/  server: /' "$work/srv.log" >&2
	exit 1
}
pass() { echo "ok: $*"; }

site=$work/site
mkdir -p "$site/tftp" "$site/pki"
head -c 5000 /dev/urandom >"$site/tftp/CTLFile.tlv"
printf '<device><deviceSecurityMode>1</deviceSecurityMode></device>\n' \
	>"$site/tftp/SEP001122334455.cnf.xml"
head -c 300000 /dev/urandom >"$site/tftp/image.sbn"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/ca.key" \
	-subj /CN=test-ca -days 1 -out "$work/ca.crt" 2>/dev/null
cat >"$work/ca.cnf" <<CNF
[ca]
default_ca = d
[d]
database = $work/index.txt
crlnumber = $work/crlnumber
default_md = sha256
default_crl_days = 1
CNF
: >"$work/index.txt"
echo 01 >"$work/crlnumber"
openssl ca -config "$work/ca.cnf" -gencrl -keyfile "$work/ca.key" \
	-cert "$work/ca.crt" -out "$site/pki/crl.pem" 2>/dev/null
openssl crl -in "$site/pki/crl.pem" -outform DER -out "$site/pki/crl.der"
echo outside >"$site/secret.txt"

started=
for ((i = 0; i < 10; i++)); do
	tp=$((33140 + 4 * i))
	hp=$((tp + 1))
	cat >"$site/trustline.conf" <<CONF
[net]
listen = 127.0.0.1
[ports]
tftp = $tp
http = $hp
CONF
	"$TL_BIN" tftp serve --site "$site" 2>"$work/srv.log" &
	pid=$!
	for ((w = 0; w < 50; w++)); do
		if grep -q "^tftp $tp http $hp" "$work/srv.log"; then
			started=1
			break 2
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	pid=
done
[ -n "$started" ] || fail "server did not start"
base=http://127.0.0.1:$hp

# GET: bytes, Content-Type and Content-Length.
check_get() { # name content-type
	local name=$1 ctype=$2 src=$3 hdr
	rm -f "$work/out"
	hdr=$(curl -sS -D - -o "$work/out" "$base/$name") ||
		fail "GET $name"
	grep -qi "^HTTP/1.1 200" <<<"$hdr" || fail "GET $name: $hdr"
	grep -qi "^Content-Type: $ctype" <<<"$hdr" ||
		fail "GET $name type: $hdr"
	grep -qi "^Content-Length: $(stat -c %s "$src")" <<<"$hdr" ||
		fail "GET $name length: $hdr"
	cmp -s "$work/out" "$src" || fail "GET $name differs"
}
check_get CTLFile.tlv application/octet-stream "$site/tftp/CTLFile.tlv"
check_get SEP001122334455.cnf.xml text/xml \
	"$site/tftp/SEP001122334455.cnf.xml"
check_get image.sbn application/octet-stream "$site/tftp/image.sbn"
check_get crl.der application/pkix-crl "$site/pki/crl.der"
check_get crl.pem application/x-pem-file "$site/pki/crl.pem"
openssl crl -inform DER -in "$work/out" -noout 2>/dev/null ||
	openssl crl -in "$work/out" -noout || fail "CRL does not parse"
pass "GET (bytes, types, lengths, CRL distribution point)"

# HEAD: the same headers, no body.
hdr=$(curl -sS -I "$base/image.sbn")
grep -qi "^HTTP/1.1 200" <<<"$hdr" || fail "HEAD: $hdr"
grep -qi "^Content-Length: 300000" <<<"$hdr" || fail "HEAD length: $hdr"
pass "HEAD"

code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
[ "$(code "$base/nothere")" = 404 ] || fail "missing: not 404"
[ "$(code --path-as-is "$base/../secret.txt")" = 403 ] ||
	fail "traversal: not 403"
[ "$(code "$base/%2e%2e/secret.txt")" = 403 ] || fail "encoded traversal"
[ "$(code "$base/%2Fetc%2Fpasswd")" = 403 ] || fail "absolute path"
[ "$(code "$base/a%00b")" = 400 ] || fail "NUL: not 400"
for m in POST PUT DELETE PATCH OPTIONS; do
	c=$(code -X "$m" --data x "$base/CTLFile.tlv")
	[ "$c" = 405 ] || fail "$m: $c, not 405"
done
hdr=$(curl -s -D - -o /dev/null -X PUT --data x "$base/CTLFile.tlv")
grep -qi "^Allow: GET, HEAD" <<<"$hdr" || fail "405 without Allow: $hdr"
pass "refusals (404, 403, 400, 405)"

# The same site also answers TFTP, from the site's port.
"$TL_BIN" tftp get "127.0.0.1:$tp" crl.der -o "$work/crl.tftp" ||
	fail "crl.der over TFTP"
cmp -s "$work/crl.tftp" "$site/pki/crl.der" || fail "TFTP CRL differs"
pass "TFTP on the site port"

kill -TERM "$pid"
set +e
wait "$pid"
rc=$?
set -e
pid=
[ "$rc" = 0 ] || fail "exit status $rc after SIGTERM"
pass "clean shutdown"
echo "PASS prov_http"
