#!/usr/bin/env bash
# The device database from the command line: trustline profile, device,
# line and cluster against a site directory that starts empty (the first
# command creates trustline.db). Checks the stored rows with sqlite3 and
# the digest HA1 values with openssl, the --json output with python3, that
# failures write nothing, that configs never carry a password, and that
# mixed mode is refused without a valid CTL (two SASTs and a TFTP signer,
# built here with trustline ctl from throw-away keys). No network.
set -u
. "$(dirname "$0")/lib.sh"
tl_deadline 300

: "${TL_BIN:?TL_BIN is the trustline binary}"
T=$(tl_tmpdir)
SITE="$T/site"
DB="$SITE/trustline.db"
mkdir -p "$SITE"

tl() { "$TL_BIN" "$@" --site "$SITE"; }
q() { sqlite3 -batch -noheader "$DB" "$1"; }
# The value at a path (python syntax) in a JSON document on stdin.
jget() { python3 -c "import json,sys; d=json.load(sys.stdin); print(d$1)"; }
gen() { q "SELECT generation FROM meta"; }
fails() { # EXPECTED-RC MSG CMD...: CMD fails with that code, one line
	local want=$1 msg=$2 rc
	shift 2
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	if [ "$rc" = "$want" ] && [ "$(wc -l <"$T/err")" -ge 1 ] &&
		grep -q '^trustline ' "$T/err"; then
		tl_pass "$msg"
	else
		tl_check_fail "$msg (rc $rc, stderr: $(head -c 300 "$T/err"))"
	fi
}

# ---- help and usage ----
for c in device line profile cluster; do
	tl_check "$c --help" "$TL_BIN" "$c" --help
	fails 2 "$c without a subcommand is a usage error" "$TL_BIN" "$c"
	fails 2 "$c with an unknown subcommand" tl "$c" frobnicate
done
fails 1 "a missing site directory is reported" \
	"$TL_BIN" device list --site "$T/nonexistent"

# ---- profiles ----
out=$(tl profile list --json) || tl_fail "profile list"
tl_assert_eq "authenticated encrypted nonsecure" \
	"$(python3 -c 'import json,sys; print(" ".join(p["name"] for p in json.load(sys.stdin)))' <<<"$out")" \
	"the migration creates the three default profiles"
tl_check "the first command created the database" test -f "$DB"
tl_assert_eq 600 "$(stat -c %a "$DB")" "the database is owner-only"
tl_assert_eq 3 "$(q 'PRAGMA user_version')" "schema version 3"
tl_assert_eq wal "$(q 'PRAGMA journal_mode')" "WAL journal"

tl_check "profile add" tl profile add secure-phones --mode encrypted \
	--auth-invite on
out=$(tl profile show secure-phones --json)
tl_assert_eq "encrypted tls True 3" \
	"$(jget '["mode"], d["transport"], d["auth_invite"], d["device_security_mode"]' <<<"$out" | tr -d "(),'")" \
	"profile show --json: mode, transport default, auth-invite"
fails 1 "duplicate profile" tl profile add secure-phones --mode encrypted
fails 2 "authenticated over udp is refused" tl profile add p2 \
	--mode authenticated --transport udp
fails 2 "an unknown mode is refused" tl profile add p3 --mode paranoid
fails 2 "add without --mode" tl profile add p4
fails 1 "a bad profile name" tl profile add 'bad name' --mode nonsecure
fails 2 "a bad on/off value" tl profile add p5 --mode nonsecure \
	--auth-invite maybe
tl_check "profile set" tl profile set secure-phones --auth-invite off
tl_assert_eq 0 "$(q "SELECT auth_invite FROM profiles WHERE name='secure-phones'")" \
	"profile set stored"

# ---- devices: MAC formats ----
tl_check "device add, colon MAC" tl device add --mac aa:bb:cc:dd:ee:01 \
	--model 8841
tl_check "device add, dash MAC" tl device add --mac aa-bb-cc-dd-ee-02 \
	--profile secure-phones
tl_check "device add, bare MAC, positional" tl device add aabbccddee03 \
	--name phone-three
tl_assert_eq "AABBCCDDEE01 AABBCCDDEE02 AABBCCDDEE03" \
	"$(q 'SELECT mac FROM devices ORDER BY mac' | tr '\n' ' ' | sed 's/ $//')" \
	"MACs are normalised to 12 upper-case hex digits"
tl_assert_eq SEPAABBCCDDEE01 "$(q "SELECT name FROM devices WHERE mac='AABBCCDDEE01'")" \
	"the name defaults to SEP<MAC>"
g0=$(gen)
# must reject: short, long, non-hex, mixed and wrong separators, empty
for bad in AABBCCDDEE0 AABBCCDDEE0011 AABBCCDDEEGG AA:BB-CC:DD:EE:FF \
	AA.BB.CC.DD.EE.FF 'AA:BB:CC:DD:EE:FF:' '' 'AABBCCDDEEF '; do
	fails 2 "bad MAC '$bad' is refused" tl device add --mac "$bad"
done
fails 1 "duplicate MAC (another notation)" tl device add \
	--mac AA:BB:CC:DD:EE:01
fails 1 "unknown profile" tl device add --mac 001122334455 --profile nope
fails 1 "duplicate name" tl device add --mac 001122334455 \
	--name SEPAABBCCDDEE01
fails 1 "a bad load name" tl device add --mac 001122334455 \
	--load 'a load'
tl_assert_eq "$g0" "$(gen)" "failed commands write nothing"
tl_assert_eq 0 "$(q "SELECT count(*) FROM devices WHERE mac='001122334455'")" \
	"no half-added device"

out=$(tl device list --json)
tl_assert_eq 3 "$(jget '.__len__()' <<<"$out")" "device list --json"
tl_check "device list (text)" bash -c "'$TL_BIN' device list --site '$SITE' | grep -q '^AABBCCDDEE02 .*secure-phones'"

# device set: profile, load, CAPF
tl_check "device set" tl device set AABBCCDDEE01 --profile encrypted \
	--load sip88xx.14-2-1 --capf-op install --capf-auth-mode auth-string \
	--capf-auth-string 314159 --capf-complete-by 2031-01-31
out=$(tl device show aa:bb:cc:dd:ee:01 --json)
tl_assert_eq "encrypted sip88xx.14-2-1 install 1 True" \
	"$(jget '["profile"], d["load"], d["capf"]["operation"], d["capf"]["auth_mode"], d["capf"]["auth_string_set"]' <<<"$out" | tr -d "(),'")" \
	"device show --json after set"
tl_assert_eq 1927670399 "$(jget '["capf"]["complete_by"]' <<<"$out")" \
	"complete-by is the end of that day (UTC)"
# Each "never shown" check reads a non-empty output first: a command that
# fails and prints nothing must not pass as "shows no secret".
tl device show AABBCCDDEE01 --json >"$T/show.json" || tl_fail "device show"
sqlite3 "$DB" .dump >"$T/dump.sql" || tl_fail "sqlite3 .dump"
sqlite3 "$DB" 'SELECT * FROM audit' >"$T/audit.txt" || tl_fail "audit"
tl_check "the auth string is never shown" bash -c "test -s '$T/show.json' && ! grep -q 314159 '$T/show.json'"
tl_check "the auth string is not stored in clear" bash -c "grep -q AABBCCDDEE01 '$T/dump.sql' && ! grep -q 314159 '$T/dump.sql'"
tl_check "nor in the audit log" bash -c "grep -q device.set '$T/audit.txt' && ! grep -q 314159 '$T/audit.txt'"
printf '271828\n' >"$T/auth"
tl_check "auth string from a file" tl device set AABBCCDDEE01 \
	--capf-auth-string-file "$T/auth"
fails 2 "a bad CAPF operation" tl device set AABBCCDDEE01 --capf-op reboot
fails 2 "a bad CAPF auth mode" tl device set AABBCCDDEE01 \
	--capf-auth-mode 7
fails 2 "a bad deadline" tl device set AABBCCDDEE01 \
	--capf-complete-by tomorrow
fails 1 "set on an unknown device" tl device set 0000000000AA --load x
fails 1 "set to an unknown profile" tl device set AABBCCDDEE01 \
	--profile nope
tl_assert_eq encrypted "$(q "SELECT profile FROM devices WHERE mac='AABBCCDDEE01'")" \
	"a refused set changes nothing"

# device certificate: certHash is the MD5 of the DER
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$T/dev.key" -out "$T/dev.crt" -days 30 \
	-subj /CN=SEPAABBCCDDEE01 2>/dev/null || tl_fail "openssl req"
md5=$(openssl x509 -in "$T/dev.crt" -outform DER | openssl dgst -md5 -r | cut -d' ' -f1)
tl_check "device set --cert (PEM)" tl device set AABBCCDDEE01 \
	--cert "$T/dev.crt"
out=$(tl device show AABBCCDDEE01 --json)
tl_assert_eq "$md5" "$(jget '["certificate"]["md5"]' <<<"$out")" \
	"certHash = MD5 of the certificate DER"
openssl x509 -in "$T/dev.crt" -outform DER -out "$T/dev.der"
tl_check "device set --cert (DER)" tl device set AABBCCDDEE01 \
	--cert "$T/dev.der"
fails 1 "a file that is not a certificate" tl device set AABBCCDDEE01 \
	--cert "$T/auth"
fails 2 "--cert with --clear-cert" tl device set AABBCCDDEE01 \
	--cert "$T/dev.der" --clear-cert

# ---- lines ----
printf 'Circle Of Life\n' >"$T/pw"
tl_check "line add with a password file" tl line add --dn 1001 \
	--device AABBCCDDEE01 --display "Alice Example" --user alice \
	--password-file "$T/pw"
tl_check "line add with --password" tl line add --dn 1002 \
	--device AABBCCDDEE01 --password 'Open Sesame'
tl_check "line add without a password" tl line add --dn 2001 \
	--device AABBCCDDEE02 --display "Bob"
realm=trustline
want_md5=$(printf '%s' "alice:$realm:Circle Of Life" | openssl dgst -md5 -r | cut -d' ' -f1)
want_sha=$(printf '%s' "alice:$realm:Circle Of Life" | openssl dgst -sha256 -r | cut -d' ' -f1)
tl_assert_eq "$want_md5" "$(q "SELECT ha1_md5 FROM lines WHERE dn='1001'")" \
	"HA1 MD5 = MD5(user:realm:password)"
tl_assert_eq "$want_sha" "$(q "SELECT ha1_sha256 FROM lines WHERE dn='1001'")" \
	"HA1 SHA-256 = SHA-256(user:realm:password)"
want_md5=$(printf '%s' "1002:$realm:Open Sesame" | openssl dgst -md5 -r | cut -d' ' -f1)
tl_assert_eq "$want_md5" "$(q "SELECT ha1_md5 FROM lines WHERE dn='1002'")" \
	"the user defaults to the DN"
tl_assert_eq 2 "$(q "SELECT line_index FROM lines WHERE dn='1002'")" \
	"the next free button"
sqlite3 "$DB" .dump >"$T/dump.sql" || tl_fail "sqlite3 .dump"
tl_check "no plain password in the database" bash -c "grep -q \"'1001'\" '$T/dump.sql' && ! grep -q -e 'Circle Of Life' -e 'Open Sesame' '$T/dump.sql'"
g0=$(gen)
fails 1 "duplicate DN" tl line add --dn 1001 --device AABBCCDDEE02
fails 1 "a digest user name taken" tl line add --dn 1007 \
	--device AABBCCDDEE02 --user alice --password x
tl_check "the error names the user" grep -q "digest user 'alice'" "$T/err"
fails 1 "a taken button" tl line add --dn 1003 --device AABBCCDDEE01 \
	--index 1
fails 1 "an unknown device" tl line add --dn 1004 --device 0000000000AA
fails 2 "a bad device MAC" tl line add --dn 1004 --device xyz
fails 1 "a bad DN" tl line add --dn 10a4 --device AABBCCDDEE01
fails 2 "an overlong DN" tl line add \
	--dn 12345678901234567890123456789012345 --device AABBCCDDEE01
fails 2 "add without --device" tl line add --dn 1005
fails 2 "password twice" tl line add --dn 1005 --device AABBCCDDEE01 \
	--password a --password-file "$T/pw"
fails 1 "a user with ':'" tl line add --dn 1006 --device AABBCCDDEE01 \
	--user 'a:b' --password x
tl_assert_eq "$g0" "$(gen)" "failed line commands write nothing"
fails 1 "changing the user needs the password" tl line set 1001 --user al
tl_check "line set user and password" tl line set 1001 --user al \
	--password-file "$T/pw"
want_md5=$(printf '%s' "al:$realm:Circle Of Life" | openssl dgst -md5 -r | cut -d' ' -f1)
tl_assert_eq "$want_md5" "$(q "SELECT ha1_md5 FROM lines WHERE dn='1001'")" \
	"a new HA1 for the new user"
out=$(tl line show 1001 --json)
tl_assert_eq "al True AABBCCDDEE01" \
	"$(jget '["user"], d["password_set"], d["device"]' <<<"$out" | tr -d "(),'")" \
	"line show --json"
tl line show 1001 --json >"$T/line.json" || tl_fail "line show"
tl_check "line show never prints an HA1" bash -c "grep -q '\"al\"' '$T/line.json' && ! grep -q '$want_md5' '$T/line.json'"
out=$(tl line list --device aa:bb:cc:dd:ee:01 --json)
tl_assert_eq "1001 1002" "$(python3 -c 'import json,sys; print(" ".join(l["dn"] for l in json.load(sys.stdin)))' <<<"$out")" \
	"line list --device"

# ---- configs never carry a password ----
tl device config AABBCCDDEE01 >"$T/cnf.xml" || tl_fail "device config"
tl_check "the plain config is XML" python3 -c "import xml.dom.minidom,sys; xml.dom.minidom.parse('$T/cnf.xml')"
tl_check "the plain config names the line" grep -q '<name>1001</name>' \
	"$T/cnf.xml"
tl_check "the plain config: encrypted mode" grep -q \
	'<deviceSecurityMode>3</deviceSecurityMode>' "$T/cnf.xml"
tl_check "no password in the plain config" bash -c "! grep -q -e 'Circle Of Life' -e 'Open Sesame' -e authPassword '$T/cnf.xml'"
fails 1 "no stub in a nonsecure cluster" tl device config AABBCCDDEE01 \
	--file sgn

# ---- cluster mode ----
out=$(tl cluster show --json)
tl_assert_eq "nonsecure default" \
	"$(jget '["mode"], d["mode_source"]' <<<"$out" | tr -d "(),'")" \
	"cluster show: nonsecure by default"
fails 1 "mixed refused without a CTL" tl cluster mode mixed
fails 2 "an unknown mode" tl cluster mode secure
mkdir -p "$SITE/tftp"
head -c 200 /dev/urandom >"$SITE/tftp/CTLFile.tlv"
fails 1 "mixed refused with a corrupt CTL" tl cluster mode mixed
for n in sast1 sast2 tftp; do
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/$n.key" \
		-out "$T/$n.crt" -days 30 -subj "/CN=$n/O=test" 2>/dev/null ||
		tl_fail "openssl req $n"
done
# trustline ctl build is part of the binary: a failure here is a failure,
# never a silent skip of the mixed-mode checks below.
"$TL_BIN" ctl build --site "$SITE" --no-site-certs --single-sast \
	--add SAST:"$T/sast1.crt" --add TFTP:"$T/tftp.crt" \
	--key "$T/sast1.key" --cert "$T/sast1.crt" \
	--out "$SITE/tftp/CTLFile.tlv" >"$T/ctl.out" 2>&1 ||
	tl_fail "ctl build (one SAST): $(head -c 300 "$T/ctl.out")"
{
	fails 1 "mixed refused with one SAST" tl cluster mode mixed
	"$TL_BIN" ctl build --site "$SITE" --no-site-certs \
		--add SAST:"$T/sast1.crt" --add SAST:"$T/sast2.crt" \
		--key "$T/sast1.key" --cert "$T/sast1.crt" \
		--out "$SITE/tftp/CTLFile.tlv" >/dev/null 2>&1 ||
		tl_fail "ctl build (two SASTs)"
	fails 1 "mixed refused without a TFTP signer" tl cluster mode mixed
	"$TL_BIN" ctl build --site "$SITE" --no-site-certs \
		--add SAST:"$T/sast1.crt" --add SAST:"$T/sast2.crt" \
		--add TFTP:"$T/tftp.crt" --key "$T/sast2.key" \
		--cert "$T/sast2.crt" --out "$SITE/tftp/CTLFile.tlv" \
		>/dev/null 2>&1 || tl_fail "ctl build"
	tl_check "mixed accepted with a valid CTL" tl cluster mode mixed
	out=$(tl cluster show --json)
	tl_assert_eq "mixed database True" \
		"$(jget '["mode"], d["mode_source"], d["ctl"]["valid"]' <<<"$out" | tr -d "(),'")" \
		"cluster show: mixed"
	# mixed: the signed file's body; with a certificate, the stub
	tl device config AABBCCDDEE01 >"$T/stub.xml" ||
		tl_fail "device config (mixed)"
	tl_check "the stub has fullConfig false" grep -q \
		'<fullConfig>false</fullConfig>' "$T/stub.xml"
	tl_check "the stub has the certHash" grep -q \
		"<certHash>$md5</certHash>" "$T/stub.xml"
	tl_check "the stub has encrConfig true" grep -q \
		'<encrConfig>true</encrConfig>' "$T/stub.xml"
	tl_check "the stub has no lines" bash -c "! grep -q sipLines '$T/stub.xml'"
	tl device config AABBCCDDEE02 >"$T/full.xml" ||
		tl_fail "device config (mixed, no cert)"
	tl_check "without a certificate: the full config" grep -q \
		'<fullConfig>true</fullConfig>' "$T/full.xml"
	fails 1 "no plain .cnf.xml in mixed mode" tl device config \
		AABBCCDDEE02 --file xml
	# signed as served, with the site's TFTP key: verified by the
	# CTL, the encrypted one opened by the device key only
	mkdir -p "$SITE/pki"
	cp "$T/tftp.key" "$SITE/pki/tftp.key"
	cp "$T/tftp.crt" "$SITE/pki/tftp.crt"
	tl_check "device config --sign (stub)" tl device config \
		AABBCCDDEE01 --sign --out "$T/SEPAABBCCDDEE01.cnf.xml.sgn"
	tl_check "the signed stub verifies against the CTL" "$TL_BIN" verify \
		"$T/SEPAABBCCDDEE01.cnf.xml.sgn" --ctl "$SITE/tftp/CTLFile.tlv" \
		--strip "$T/stripped.xml"
	tl_check "its content is the stub" cmp "$T/stripped.xml" "$T/stub.xml"
	tl_check "device config --sign --file enc" tl device config \
		AABBCCDDEE01 --file enc --sign --out "$T/dev.enc.sgn"
	tl_assert_eq 600 "$(stat -c %a "$T/dev.enc.sgn")" \
		"the encrypted config is written 0600"
	tl_check "it decrypts with the device key" "$TL_BIN" decrypt-config \
		--key "$T/dev.key" --ctl "$SITE/tftp/CTLFile.tlv" \
		--out "$T/dec.xml" "$T/dev.enc.sgn"
	tl_check "to the full config" grep -q '<fullConfig>true</fullConfig>' \
		"$T/dec.xml"
	fails 1 "no .enc.sgn for a device without a certificate" \
		tl device config AABBCCDDEE02 --file enc --sign
	fails 2 "--out without --sign" tl device config AABBCCDDEE02 \
		--out "$T/x"
	tl_check "no file left behind by a refusal" test ! -e "$T/x"
	for f in "$T/stub.xml" "$T/full.xml" "$T/dec.xml"; do
		tl_check "no password in $(basename "$f")" bash -c "! grep -q -e 'Circle Of Life' -e 'Open Sesame' -e authPassword '$f'"
	done
	tl_check "back to nonsecure" tl cluster mode nonsecure
}

# ---- deletes ----
fails 1 "a profile in use cannot be deleted" tl profile del secure-phones
tl_check "line del" tl line del 1002
fails 1 "line del twice" tl line del 1002
tl_check "device del" tl device del AA-BB-CC-DD-EE-01
tl_assert_eq 0 "$(q "SELECT count(*) FROM lines WHERE device='AABBCCDDEE01'")" \
	"deleting a device deletes its lines"
fails 1 "device del twice" tl device del AABBCCDDEE01
tl_check "device del (profile user)" tl device del AABBCCDDEE02
tl_check "profile del once unused" tl profile del secure-phones
fails 1 "profile del twice" tl profile del secure-phones

# ---- concurrent writers (WAL, busy timeout, BEGIN IMMEDIATE) ----
pids=()
for i in $(seq 10 29); do
	"$TL_BIN" device add --mac "0000000000$i" --site "$SITE" \
		>"$T/par.$i.out" 2>&1 &
	pids+=($!)
done
bad=0
for p in "${pids[@]}"; do
	wait "$p" || bad=$((bad + 1))
done
tl_assert_eq 0 "$bad" "20 concurrent device add commands all succeed"
tl_assert_eq 20 "$(q "SELECT count(*) FROM devices WHERE mac LIKE '0000000000%'")" \
	"and all 20 devices are stored"

# ---- concurrent first use: one process migrates, the others wait ----
SITE2="$T/site2"
mkdir -p "$SITE2"
pids=()
for i in $(seq 10 19); do
	"$TL_BIN" device add --mac "0000000001$i" --site "$SITE2" \
		>"$T/first.$i.out" 2>&1 &
	pids+=($!)
done
bad=0
for p in "${pids[@]}"; do
	wait "$p" || bad=$((bad + 1))
done
tl_assert_eq 0 "$bad" "10 commands on a new site at once all succeed"
tl_assert_eq 10 "$(sqlite3 "$SITE2/trustline.db" 'SELECT count(*) FROM devices')" \
	"and the database they created has all 10 devices"

# ---- audit ----
tl_check "every change is audited" test "$(q "SELECT count(*) FROM audit")" -ge 15
for a in profile.add profile.set profile.del device.add device.set \
	device.del line.add line.set line.del; do
	tl_assert_eq 1 "$(q "SELECT count(*) > 0 FROM audit WHERE action='$a'")" \
		"audit has $a"
done
sqlite3 "$DB" 'SELECT * FROM audit' >"$T/audit.txt" || tl_fail "audit"
tl_check "the audit log has no secrets" bash -c "grep -q line.add '$T/audit.txt' && ! grep -q -e 'Circle Of Life' -e 'Open Sesame' -e 271828 '$T/audit.txt'"

tl_summary
