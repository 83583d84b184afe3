#!/usr/bin/env bash
# Phones' configs served by `trustline serve` over TFTP and HTTP (6970):
# generated from the database, plain in a nonsecure cluster, signed by the
# TFTP role in a mixed one, the full config encrypted to a device that has
# a certificate; regenerated when the database changes; no password in
# any file a phone can read without its key.
set -u
. "$(dirname "$0")/lib.sh"
tl_deadline 300

T=${TL_BIN:?TL_BIN is the trustline binary}
D=$(tl_tmpdir)
P=$(tl_free_port 36800 7 150) || tl_fail "no free ports"
site=$D/site
tftp="tftp://127.0.0.1:$((P + 2))"
http="http://127.0.0.1:$((P + 3))"

# A phone retries a transfer that failed (lost datagrams on a loaded host):
# so do we, a bounded number of times.
fetch_tftp() {
	local i
	for i in 1 2 3; do
		curl -sf --max-time 10 --tftp-blksize 1428 "$tftp/$1" -o "$2" &&
			return 0
		echo "TFTP fetch of $1 failed (attempt $i)" >&2
		sleep 0.5
	done
	return 1
}
fetch_http() { curl -sf --max-time 10 "$http/$1" -o "$2"; }

"$T" init --site "$site" --base-port "$P" >"$D/init.log" 2>&1 ||
	tl_fail "init failed: $(tail -3 "$D/init.log")"
"$T" device add --site "$site" --mac 0011223344A1 >/dev/null || tl_fail "device"
"$T" device add --site "$site" --mac 0011223344A2 --profile encrypted \
	>/dev/null || tl_fail "device 2"
"$T" line add --site "$site" --dn 2001 --device 0011223344A1 \
	--password S3cretA1pass >/dev/null || tl_fail "line 2001"
"$T" line add --site "$site" --dn 2002 --device 0011223344A2 \
	--password S3cretA2pass >/dev/null || tl_fail "line 2002"
mkdir -p "$D/mic"
"$T" mfg issue --site "$site" --mac 0011223344A2 --key rsa2048 \
	--out "$D/mic" >/dev/null || tl_fail "mfg issue"

tl_start serve "$T" serve --site "$site"
tl_wait_port udp 127.0.0.1 $((P + 2)) 20 || tl_fail "no TFTP"
tl_wait_port tcp 127.0.0.1 $((P + 3)) 20 || tl_fail "no HTTP"
for _ in $(seq 100); do
	grep -q "config files of" "$(tl_log serve)" && break
	sleep 0.1
done
tl_check "serve builds both devices' config files at start" \
	grep -q "config files of 2 devices built in [0-9.]* s: 2 files, 0 devices failed" \
	"$(tl_log serve)"

# Nonsecure cluster: the plain config, over both protocols, identical.
tl_check "plain config over TFTP" fetch_tftp SEP0011223344A1.cnf.xml "$D/a1.xml"
tl_check "plain config over HTTP" fetch_http SEP0011223344A1.cnf.xml "$D/a1h.xml"
tl_check "TFTP and HTTP serve the same bytes" cmp "$D/a1.xml" "$D/a1h.xml"
tl_check "the config names the call manager's SIP port" \
	grep -q "<sipPort>$P</sipPort>" "$D/a1.xml"
tl_check "the config lists line 2001" grep -q "2001" "$D/a1.xml"
tl_check "no password in the plain config" \
	bash -c "test -s '$D/a1.xml' && ! grep -q S3cretA1pass '$D/a1.xml'"
tl_check "the CTL is served" fetch_tftp CTLFile.tlv "$D/ctl.tlv"
tl_check "an unknown device's config is not found" \
	bash -c "! curl -sf --max-time 10 '$http/SEP00000000BEEF.cnf.xml' -o /dev/null"

# Mixed cluster: only the signed file, signed by the TFTP role of the CTL.
"$T" cluster mode mixed --site "$site" >/dev/null || tl_fail "cluster mode"
sleep 1.5 # the server's generation check runs once a second
tl_check "mixed: the plain config is gone" \
	bash -c "! curl -sf --max-time 10 '$http/SEP0011223344A1.cnf.xml' -o /dev/null"
tl_check "mixed: the signed config over TFTP" \
	fetch_tftp SEP0011223344A1.cnf.xml.sgn "$D/a1.sgn"
tl_check "mixed: it verifies against the CTL (TFTP role)" \
	"$T" verify "$D/a1.sgn" --ctl "$D/ctl.tlv" --strip "$D/a1.body"
tl_check "mixed: no password in the signed config" \
	bash -c "test -s '$D/a1.sgn' && ! grep -q S3cretA1pass '$D/a1.sgn'"
cp "$D/a1.sgn" "$D/a1-tampered.sgn"
printf 'X' | dd of="$D/a1-tampered.sgn" bs=1 seek=$(($(stat -c %s "$D/a1.sgn") - 20)) \
	conv=notrunc 2>/dev/null
tl_check "mixed: a tampered copy fails verification" \
	bash -c "test -s '$D/a1-tampered.sgn' && ! '$T' verify '$D/a1-tampered.sgn' --ctl '$D/ctl.tlv' 2>/dev/null"

# A device with a certificate: stub .sgn (certHash, encrConfig) and the
# full config encrypted to it.
"$T" device set 0011223344A2 --site "$site" \
	--cert "$D/mic/SEP0011223344A2.crt" >/dev/null || tl_fail "device set --cert"
sleep 1.5
tl_check "stub config over TFTP" fetch_tftp SEP0011223344A2.cnf.xml.sgn "$D/a2.sgn"
tl_check "stub verifies" "$T" verify "$D/a2.sgn" --ctl "$D/ctl.tlv" \
	--strip "$D/a2.stub"
want_hash=$(openssl x509 -in "$D/mic/SEP0011223344A2.crt" -outform DER |
	md5sum | cut -d' ' -f1)
tl_check "stub carries the certificate's MD5 as certHash" \
	grep -qi "<certHash>$want_hash</certHash>" "$D/a2.stub"
tl_check "stub says encrConfig true" grep -q "<encrConfig>true</encrConfig>" \
	"$D/a2.stub"
tl_check "encrypted config over HTTP" fetch_http SEP0011223344A2.cnf.xml.enc.sgn \
	"$D/a2.enc.sgn"
tl_check "it decrypts with the device key" "$T" decrypt-config \
	--key "$D/mic/SEP0011223344A2.key" --ctl "$D/ctl.tlv" \
	--out "$D/a2.full" "$D/a2.enc.sgn"
tl_check "the decrypted config is the full one with line 2002" \
	grep -q "2002" "$D/a2.full"
tl_check "nothing readable without the key holds a password" \
	bash -c "test -s '$D/a2.sgn' && test -s '$D/a2.enc.sgn' && ! grep -q S3cretA2pass '$D/a2.sgn' '$D/a2.enc.sgn' '$D/a2.stub'"

# The database changes: the next fetch is regenerated.
"$T" line add --site "$site" --dn 2003 --device 0011223344A1 \
	--password S3cretA3pass >/dev/null || tl_fail "line 2003"
sleep 1.5
tl_check "a new line appears in the next fetch" \
	fetch_tftp SEP0011223344A1.cnf.xml.sgn "$D/a1b.sgn"
tl_check "regenerated config lists 2003" grep -q "2003" "$D/a1b.sgn"

rc=0
tl_stop serve || rc=$?
tl_assert_eq 0 "$rc" "serve exits 0 on SIGTERM"
tl_summary
