#!/usr/bin/env bash
# Call control end to end: `trustline serve` as a B2BUA between SIPp
# phones on loopback. Calls over UDP and TLS (through stunnel), 404 for an
# unknown number, 480 for an unregistered one, the callee's 486 relayed,
# CANCEL, hold/resume, the call security status in Call-Info (caller's 200
# and the callee's UPDATE), SDES keys never on a non-TLS leg (checked in
# the captured messages), RTP/SAVP with the two suites between encrypted
# devices on TLS, and the CDR rows.
set -u
. "$(dirname "$0")/lib.sh"
tl_deadline 400

T=${TL_BIN:?TL_BIN is the trustline binary}
D=$(tl_tmpdir)
SIPP=$TL_SRC/tests/sipp
P=$(tl_free_port 38000 3 200) || tl_fail "no free ports"
# Loopback is busy with ephemeral ports: one port at a time.
port() { tl_free_port 38200 1 800 || tl_fail "no free port"; }
UAC=$(port)
U2=$(port) # every callee 1002 answers here: one binding, refreshed
site=$D/site

"$T" init --site "$site" --base-port "$P" >"$D/init.log" 2>&1 ||
	tl_fail "init failed: $(tail -3 "$D/init.log")"
# SIPp 3.6 reads only the first challenge and knows only MD5.
sed -i 's/^digest = .*/digest = md5,sha256/' "$site/trustline.conf"
n=0
for spec in 1001:nonsecure 1002:nonsecure 1003:encrypted 1004:encrypted \
	1005:nonsecure; do
	dn=${spec%%:*}
	prof=${spec#*:}
	n=$((n + 1))
	mac=$(printf '0011223344%02d' "$n")
	"$T" device add --site "$site" --mac "$mac" --profile "$prof" \
		>/dev/null || tl_fail "device add $mac"
	"$T" line add --site "$site" --dn "$dn" --device "$mac" --user "$dn" \
		--password "secret$dn" >/dev/null || tl_fail "line add $dn"
done
mkdir -p "$D/mic3" "$D/mic4"
"$T" mfg issue --site "$site" --mac 001122334403 --out "$D/mic3" \
	>/dev/null || tl_fail "mfg issue 3"
"$T" mfg issue --site "$site" --mac 001122334404 --out "$D/mic4" \
	>/dev/null || tl_fail "mfg issue 4"

# field0 dn, field1 password, field2 credentials, field3 callee, field4
# offered profile.
csv() {
	printf 'SEQUENTIAL\n%s;secret%s;[authentication username=%s password=secret%s];%s;%s\n' \
		"$1" "$1" "$1" "$1" "$2" "$3" >"$D/$4.csv"
}

cdr() {
	sqlite3 "$site/trustline.db" "$1" 2>&1
}

tl_start serve "$T" -v serve --site "$site" --no-tftp --no-http
tl_wait_port udp 127.0.0.1 "$P" 20 || tl_fail "serve did not bind UDP $P"
tl_wait_port tcp 127.0.0.1 $((P + 1)) 20 || tl_fail "serve did not bind TLS"

# Register a UDP callee from port $2, then answer calls there.
uas_udp() {
	local dn=$1 port=$2 name=$3 scen=${4:-cm_uas.xml} m=${5:-1}
	local try
	csv "$dn" 0 RTP/AVP "reg$name"
	for try in 1 2 3; do
		tl_sipp "reg-$name" 127.0.0.1:"$P" \
			-sf "$SIPP/register_auth.xml" -inf "$D/reg$name.csv" \
			-m 1 -t u1 -p "$port" 2>/dev/null && break
		# Loopback ports are shared with everything else on the
		# machine: an ephemeral socket may hold ours for a while.
		grep -q "Unable to bind" "$TL_TMP/reg-$name.errors" ||
			tl_fail "callee $dn did not register"
		[ "$port" = "$U2" ] && U2=$(port) && port=$U2 || port=$(port)
		[ $try = 3 ] && tl_fail "callee $dn: no port to bind"
	done
	tl_start "uas-$name" timeout 60 sipp -nostdin -sf "$SIPP/$scen" \
		-t u1 -p "$port" -m "$m" -trace_msg -message_file \
		"$D/uas-$name.msg" -trace_err -error_file "$D/uas-$name.err" \
		127.0.0.1:"$P"
	tl_wait_port udp 127.0.0.1 "$port" 10 || tl_fail "uas $name not up"
}

# 1. UDP to UDP, the caller offering SRTP with keys over UDP (a broken
#    phone): the callee must get neither keys nor RTP/SAVP.
uas_udp 1002 "$U2" udp
csv 1001 1002 RTP/SAVP uac-udp
tl_check "call 1001 -> 1002 over UDP" \
	tl_sipp uac-udp 127.0.0.1:"$P" -sf "$SIPP/cm_uac.xml" \
	-inf "$D/uac-udp.csv" -m 1 -t u1 -p $UAC -trace_msg \
	-message_file "$D/uac-udp.msg"
rc=0
for _ in $(seq 50); do tl_alive uas-udp || break; sleep 0.1; done
tl_stop uas-udp || rc=$?
tl_assert_eq 0 "$rc" "the UDP callee saw a clean call"
tl_check "caller's 200 says NotAuthenticated" \
	grep -q "security=NotAuthenticated; orientation=to" "$D/uac-udp.msg"
tl_check "callee's UPDATE says NotAuthenticated" \
	grep -q "security=NotAuthenticated; orientation=from" "$D/uas-udp.msg"
tl_check "no a=crypto reached the UDP callee" \
	bash -c "! grep -q 'a=crypto' '$D/uas-udp.msg'"
tl_check "no RTP/SAVP reached the UDP callee" \
	bash -c "! grep -q 'RTP/SAVP' '$D/uas-udp.msg'"
tl_check "no a=crypto sent back to the UDP caller" \
	bash -c "! sed -n '/received/,/^$/p' '$D/uac-udp.msg' | grep -q 'a=crypto'"

# 2. Unknown number: 404; registered nowhere: 480.
csv 1001 1999 RTP/AVP uac-404
tl_check "unknown number answered 404" \
	tl_sipp uac-404 127.0.0.1:"$P" -sf "$SIPP/cm_uac_fail.xml" \
	-inf "$D/uac-404.csv" -m 1 -t u1 -p $UAC -trace_msg \
	-message_file "$D/uac-404.msg"
csv 1001 1005 RTP/AVP uac-480
tl_check "unregistered number answered 480" \
	tl_sipp uac-480 127.0.0.1:"$P" -sf "$SIPP/cm_uac_fail.xml" \
	-inf "$D/uac-480.csv" -m 1 -t u1 -p $UAC -trace_msg \
	-message_file "$D/uac-480.msg"

# 3. The callee is busy: 486 relayed.
uas_udp 1002 "$U2" busy cm_uas_busy.xml
csv 1001 1002 RTP/AVP uac-busy
tl_check "busy callee: 486 relayed" \
	tl_sipp uac-busy 127.0.0.1:"$P" -sf "$SIPP/cm_uac_fail.xml" \
	-inf "$D/uac-busy.csv" -m 1 -t u1 -p $UAC -trace_msg \
	-message_file "$D/uac-busy.msg"
tl_stop uas-busy >/dev/null 2>&1 || true
for c in 404:uac-404 480:uac-480 486:uac-busy; do
	tl_check "${c#*:} got ${c%%:*}" grep -q "^SIP/2.0 ${c%%:*} " \
		"$D/${c#*:}.msg"
done


# ---- TLS legs ----
# SIPp has no TLS. The caller goes through a stunnel client with its
# device certificate (MIC). A TLS callee must have registered on the very
# connection its calls come back on, which a SIPp UAS cannot do: a small
# bridge registers over TLS with the device certificate (digest MD5), then
# relays that connection to a SIPp UAS listening on TCP.

# A TLS callee: SIPp UAS on TCP port $2, bridged from the device's TLS
# connection.
uas_tls() {
	local dn=$1 port=$2 name=$3 scen=$4 mic=$5 m=${6:-1}
	tl_start "uas-$name" timeout 60 sipp -nostdin -sf "$SIPP/$scen" \
		-t t1 -p "$port" -m "$m" -trace_msg -message_file \
		"$D/uas-$name.msg" -trace_err -error_file "$D/uas-$name.err" \
		127.0.0.1:"$P"
	tl_wait_port tcp 127.0.0.1 "$port" 10 || tl_fail "uas $name not up"
	tl_start "bridge-$name" timeout 70 python3 "$TL_SRC/tests/sipp/tls_bridge.py" 127.0.0.1 \
		$((P + 1)) "$site/pki/ca.crt" "$mic/SEP$6.crt" "$mic/SEP$6.key" \
		"$dn" "secret$dn" "$port"
	for _ in $(seq 100); do
		grep -q registered "$(tl_log "bridge-$name")" && return 0
		tl_alive "bridge-$name" || break
		sleep 0.1
	done
	tl_fail "TLS callee $dn did not register: $(tail -2 "$(tl_log "bridge-$name")")"
}

wait_gone() {
	for _ in $(seq 50); do tl_alive "$1" || break; sleep 0.1; done
	tl_stop "$1"
}

ST3=$(port)
tl_stunnel_conf "$D/st3.conf" "$ST3" 127.0.0.1:$((P + 1)) \
	"$site/pki/ca.crt" "$D/mic3/SEP001122334403.crt" \
	"$D/mic3/SEP001122334403.key"
tl_start st3 stunnel4 "$D/st3.conf"
tl_wait_port tcp 127.0.0.1 "$ST3" 10 || tl_fail "stunnel (MIC 3) not up"

# 4. Encrypted to encrypted, both on TLS: RTP/SAVP with the two suites.
uas_tls 1004 "$(port)" tls cm_uas_srtp.xml "$D/mic4" 001122334404
csv 1003 1004 RTP/SAVP uac-tls
tl_check "call 1003 -> 1004, both encrypted on TLS" \
	tl_sipp uac-tls 127.0.0.1:"$ST3" -sf "$SIPP/cm_uac.xml" \
	-inf "$D/uac-tls.csv" -m 1 -t t1 -p "$(port)" -trace_msg \
	-message_file "$D/uac-tls.msg"
rc=0
wait_gone uas-tls || rc=$?
tl_assert_eq 0 "$rc" "the TLS callee got SRTP with both suites only"
tl_check "caller's 200 says Encrypted" \
	grep -q "security=Encrypted; orientation=to" "$D/uac-tls.msg"
tl_check "callee's UPDATE says Encrypted" \
	grep -q "security=Encrypted; orientation=from" "$D/uas-tls.msg"
tl_check "the caller got the callee's key back (RTP/SAVP answer)" \
	grep -q "a=crypto:1 AES_CM_128_HMAC_SHA1_80" "$D/uac-tls.msg"
tl_stop bridge-tls >/dev/null 2>&1 || true

# 5. Encrypted caller on TLS to a nonsecure callee on UDP: no keys on the
#    UDP leg, none back to the caller either, status NotAuthenticated.
uas_udp 1002 "$U2" mixed
csv 1003 1002 RTP/SAVP uac-mixed
tl_check "call 1003 (TLS) -> 1002 (UDP)" \
	tl_sipp uac-mixed 127.0.0.1:"$ST3" -sf "$SIPP/cm_uac.xml" \
	-inf "$D/uac-mixed.csv" -m 1 -t t1 -p "$(port)" -trace_msg \
	-message_file "$D/uac-mixed.msg"
rc=0
wait_gone uas-mixed || rc=$?
tl_assert_eq 0 "$rc" "the UDP callee of a TLS caller saw no keys"
tl_check "no a=crypto on the UDP leg" \
	bash -c "! grep -q 'a=crypto' '$D/uas-mixed.msg'"
tl_check "mixed call is NotAuthenticated" \
	grep -q "security=NotAuthenticated; orientation=to" "$D/uac-mixed.msg"

# 6. An encrypted device may not call over UDP (seed 002).
csv 1003 1002 RTP/AVP uac-enc-udp
if tl_sipp uac-enc-udp 127.0.0.1:"$P" -sf "$SIPP/cm_uac_fail.xml" \
	-inf "$D/uac-enc-udp.csv" -m 1 -t u1 -p "$UAC" -trace_msg \
	-message_file "$D/uac-enc-udp.msg" 2>/dev/null; then
	tl_check_fail "an encrypted device gets no service over UDP"
else
	tl_pass "an encrypted device gets no service over UDP"
fi
tl_check "the refusal is a 403 naming the profile" \
	grep -q "^SIP/2.0 403 Transport not allowed by security profile" \
	"$D/uac-enc-udp.msg"

# 8. The caller hangs up while the callee rings: CANCEL on both legs.
uas_udp 1002 "$U2" ring cm_uas_ring.xml
csv 1001 1002 RTP/AVP uac-cancel
tl_check "caller cancels: 487 to the caller" \
	tl_sipp uac-cancel 127.0.0.1:"$P" -sf "$SIPP/cm_uac_cancel.xml" \
	-inf "$D/uac-cancel.csv" -m 1 -t u1 -p "$UAC"
rc=0
wait_gone uas-ring || rc=$?
tl_assert_eq 0 "$rc" "the callee got the CANCEL and answered 487"

# 9. Hold and resume, relayed to the callee.
uas_udp 1002 "$U2" hold
csv 1001 1002 RTP/AVP uac-hold
tl_check "hold and resume" \
	tl_sipp uac-hold 127.0.0.1:"$P" -sf "$SIPP/cm_uac_hold.xml" \
	-inf "$D/uac-hold.csv" -m 1 -t u1 -p "$UAC" -trace_msg \
	-message_file "$D/uac-hold.msg"
rc=0
wait_gone uas-hold || rc=$?
tl_assert_eq 0 "$rc" "the callee got both re-INVITEs"
tl_check "the held phone got a=sendonly" grep -q "^a=sendonly" \
	"$D/uas-hold.msg"
tl_check "status NotAuthenticated while on hold" \
	grep -q "security=NotAuthenticated; orientation=from" "$D/uas-hold.msg"

# 10. Forward all: 1005 -> 1002.
tl_check "calls forward --all" bash -c \
	"'$T' calls forward --site '$site' 1005 --all 1002 >/dev/null"
sleep 1.5
uas_udp 1002 "$U2" fwd
csv 1001 1005 RTP/AVP uac-fwd
tl_check "a call to 1005 is answered by 1002 (forward all)" \
	tl_sipp uac-fwd 127.0.0.1:"$P" -sf "$SIPP/cm_uac.xml" \
	-inf "$D/uac-fwd.csv" -m 1 -t u1 -p "$UAC"
wait_gone uas-fwd >/dev/null 2>&1 || true
tl_check "calls forward --clear" bash -c \
	"'$T' calls forward --site '$site' 1005 --clear --json | grep -q '\"all\": null'"
if "$T" calls forward --site "$site" 1005 --all 1999 2>"$D/fwd.err"; then
	tl_check_fail "forward to an unknown line is refused"
else
	tl_check "forward to an unknown line is refused in one line" \
		grep -q "no line 1999" "$D/fwd.err"
fi

# 11. No answer: 1002 rings for the ring time, the call goes to 1005.
tl_check "calls ring-time 5" bash -c \
	"'$T' calls ring-time --site '$site' 5 >/dev/null"
tl_check "calls forward --no-answer" bash -c \
	"'$T' calls forward --site '$site' 1002 --no-answer 1005 >/dev/null"
sleep 1.5
uas_udp 1002 "$U2" noans cm_uas_ring.xml
uas_udp 1005 "$(port)" five
csv 1001 1002 RTP/AVP uac-noans
tl_check "unanswered 1002 forwards to 1005 after the ring time" \
	tl_sipp uac-noans 127.0.0.1:"$P" -sf "$SIPP/cm_uac.xml" \
	-inf "$D/uac-noans.csv" -m 1 -t u1 -p "$UAC"
rc=0
wait_gone uas-noans || rc=$?
tl_assert_eq 0 "$rc" "1002 was cancelled at the ring time"
wait_gone uas-five >/dev/null 2>&1 || true
"$T" calls forward --site "$site" 1002 --clear >/dev/null
sleep 1.5
uas_udp 1002 "$U2" noans2 cm_uas_ring.xml
csv 1001 1002 RTP/AVP uac-noans2
tl_check "without a forward, no answer is 480" \
	tl_sipp uac-noans2 127.0.0.1:"$P" -sf "$SIPP/cm_uac_fail.xml" \
	-inf "$D/uac-noans2.csv" -m 1 -t u1 -p "$UAC" -trace_msg \
	-message_file "$D/uac-noans2.msg"
tl_check "480 No Answer" grep -q "^SIP/2.0 480 No Answer" "$D/uac-noans2.msg"
wait_gone uas-noans2 >/dev/null 2>&1 || true

# 12. Auth INVITE (seed 001): 1006's phone challenges our INVITE; we
#     answer with the line's credentials.
"$T" profile add authinv --site "$site" --mode nonsecure \
	--auth-invite on >/dev/null || tl_fail "profile add"
"$T" device add --site "$site" --mac 001122334406 --profile authinv \
	>/dev/null || tl_fail "device add 6"
"$T" line add --site "$site" --dn 1006 --device 001122334406 --user 1006 \
	--password secret1006 >/dev/null || tl_fail "line add 1006"
realm=$("$T" line show --site "$site" 1006 --json |
	sed -n 's/.*"realm": "\([^"]*\)".*/\1/p')
sleep 1.5
csv 1006 0 RTP/AVP reg6
U6=$(port)
tl_sipp reg-6 127.0.0.1:"$P" -sf "$SIPP/register_auth.xml" \
	-inf "$D/reg6.csv" -m 1 -t u1 -p "$U6" || tl_fail "1006 did not register"
tl_start uas-auth timeout 60 sipp -nostdin -sf "$SIPP/cm_uas_auth.xml" \
	-t u1 -p "$U6" -m 1 -key user 1006 -key password secret1006 \
	-key realm "$realm" -trace_msg -message_file "$D/uas-auth.msg" \
	-trace_err -error_file "$D/uas-auth.err" 127.0.0.1:"$P"
tl_wait_port udp 127.0.0.1 "$U6" 10 || tl_fail "uas auth not up"
csv 1001 1006 RTP/AVP uac-auth
tl_check "call to an Auth INVITE phone: challenge answered, call up" \
	tl_sipp uac-auth 127.0.0.1:"$P" -sf "$SIPP/cm_uac.xml" \
	-inf "$D/uac-auth.csv" -m 1 -t u1 -p "$UAC"
rc=0
wait_gone uas-auth || rc=$?
tl_assert_eq 0 "$rc" "the phone accepted our credentials"
tl_check "our retried INVITE carried Authorization" \
	grep -q "^Authorization: Digest username=\"1006\"" "$D/uas-auth.msg"
csv 1006 0 RTP/AVP mwi6
tl_check "the Auth INVITE phone's challenge of our NOTIFY is answered" \
	tl_sipp mwi-auth 127.0.0.1:"$P" -sf "$SIPP/cm_mwi_auth.xml" \
	-inf "$D/mwi6.csv" -m 1 -t u1 -p "$(port)" -key user 1006 \
	-key password secret1006 -key realm "$realm"

# 7. MWI: subscribe, `trustline mwi set` from another process, NOTIFY.
csv 1001 0 RTP/AVP mwi
MWIP=$(port)
tl_start mwi-sub timeout 40 sipp -nostdin -sf "$SIPP/cm_mwi.xml" \
	-inf "$D/mwi.csv" -m 1 -t u1 -p "$MWIP" -trace_msg -message_file \
	"$D/mwi.msg" -trace_err -error_file "$D/mwi.err" 127.0.0.1:"$P"
for _ in $(seq 100); do
	grep -q "Voice-Message: 0/0" "$D/mwi.msg" 2>/dev/null && break
	sleep 0.1
done
tl_check "mwi set" bash -c "'$T' mwi set --site '$site' 1001 --new 3 --old 1 >/dev/null"
rc=0
wait_gone mwi-sub || rc=$?
tl_assert_eq 0 "$rc" "subscriber got the first NOTIFY, the change, the end"
tl_check "the change reached the phone as a NOTIFY" \
	grep -q "Voice-Message: 3/1" "$D/mwi.msg"
tl_check "mwi show --json" bash -c \
	"'$T' mwi show --site '$site' 1001 --json | grep -q '\"new\": 3'"
if "$T" mwi set --site "$site" 1999 --new 1 2>"$D/mwi-bad.err"; then
	tl_check_fail "mwi set on an unknown DN fails"
else
	tl_check "mwi set on an unknown DN fails with one line" \
		grep -q "no line 1999" "$D/mwi-bad.err"
fi

# 13. Revocation: 1004 registers over TLS with an LSC from the site CA;
#     once that certificate is revoked its registration is dropped at
#     once (not at expiry), audited, and calls to it find nobody.
mkdir -p "$D/lsc4"
"$T" ca issue --site "$site" --profile lsc --cn SEP001122334404 \
	--out "$D/lsc4" >/dev/null || tl_fail "ca issue lsc"
"$T" device set --site "$site" 001122334404 \
	--cert "$D/lsc4/SEP001122334404.crt" >/dev/null || tl_fail "device set"
sleep 1.5
uas_tls 1004 "$(port)" rev cm_uas.xml "$D/lsc4" 001122334404
serial=$("$T" device show --site "$site" 001122334404 --json |
	sed -n 's/.*"serial": "\([0-9a-f]*\)".*/\1/p')
"$T" ca revoke --site "$site" --serial "$serial" >/dev/null ||
	tl_fail "ca revoke"
for _ in $(seq 50); do
	[ "$(cdr "select count(*) from audit where action='registration-dropped' and detail='1004'")" = 1 ] && break
	sleep 0.1
done
tl_assert_eq 1 "$(cdr "select count(*) from audit where action='registration-dropped' and detail='1004'")" \
	"the revoked device's registration is dropped and audited"
csv 1001 1004 RTP/AVP uac-rev
tl_check "a call to the revoked device is 480" \
	tl_sipp uac-rev 127.0.0.1:"$P" -sf "$SIPP/cm_uac_fail.xml" \
	-inf "$D/uac-rev.csv" -m 1 -t u1 -p "$UAC" -trace_msg \
	-message_file "$D/uac-rev.msg"
tl_check "480 for the revoked device" grep -q "^SIP/2.0 480 " "$D/uac-rev.msg"
tl_stop bridge-rev >/dev/null 2>&1 || true
tl_stop uas-rev >/dev/null 2>&1 || true

# 15. Blind transfer: 1001 calls 1002, then REFERs 1002 to 1005.
uas_udp 1002 "$U2" xfer cm_uas_xfer.xml
uas_udp 1005 "$(port)" xtarget
printf 'SEQUENTIAL\n1001;secret1001;[authentication username=1001 password=secret1001];1002;RTP/AVP;1005\n' \
	>"$D/uac-xfer.csv"
tl_check "blind transfer: 202, NOTIFY 100 and 200, BYE" \
	tl_sipp uac-xfer 127.0.0.1:"$P" -sf "$SIPP/cm_uac_xfer.xml" \
	-inf "$D/uac-xfer.csv" -m 1 -t u1 -p "$UAC"
rc=0
wait_gone uas-xfer || rc=$?
tl_assert_eq 0 "$rc" "the transferee was re-INVITEd and got the target's answer"
rc=0
wait_gone uas-xtarget || rc=$?
tl_assert_eq 0 "$rc" "the target answered and was hung up on"
tl_check "the transferee was told NotAuthenticated during the transfer" \
	grep -q "security=NotAuthenticated" "$D/uas-xfer.msg"
tl_assert_eq "1" "$(cdr "select count(*) from cdrs where cause='transferred' and from_dn='1001' and to_dn='1002'")" \
	"CDR of the transferred call"
tl_assert_eq "1" "$(cdr "select count(*) from cdrs where from_dn='1002' and to_dn='1005' and answer_at>0")" \
	"CDR of the call after the transfer"

# 16. Attended transfer: 1001 calls 1002, consults 1005 from a second
#     port, then REFERs 1002 to 1005 with Replaces naming the consultation.
uas_udp 1002 "$U2" att cm_uas_xfer.xml
uas_udp 1005 "$(port)" att5
printf 'SEQUENTIAL\n1001;secret1001;[authentication username=1001 password=secret1001];1002;RTP/AVP;1005;xfer2-call%%3Bfrom-tag%%3Dc2tag\n' \
	>"$D/uac-att.csv"
printf 'SEQUENTIAL\n1001;secret1001;[authentication username=1001 password=secret1001];1005;RTP/AVP\n' \
	>"$D/uac-con.csv"
tl_start uac-att timeout 40 sipp -nostdin -sf "$SIPP/cm_uac_attended.xml" \
	-inf "$D/uac-att.csv" -m 1 -t u1 -p "$UAC" -trace_err \
	-error_file "$D/uac-att.err" 127.0.0.1:"$P"
sleep 0.8
tl_start uac-con timeout 40 sipp -nostdin -sf "$SIPP/cm_uac_consult.xml" \
	-inf "$D/uac-con.csv" -m 1 -t u1 -p "$(port)" -cid_str xfer2-call \
	-trace_err -error_file "$D/uac-con.err" 127.0.0.1:"$P"
for n in uac-att uac-con uas-att uas-att5; do
	rc=0
	for _ in $(seq 150); do tl_alive "$n" || break; sleep 0.1; done
	tl_stop "$n" || rc=$?
	tl_assert_eq 0 "$rc" "attended transfer: $n completed"
done
tl_assert_eq "2" "$(cdr "select count(*) from cdrs where from_dn='1002' and to_dn='1005' and cause like 'normal%'")" \
	"CDRs of 1002 with 1005 after the blind and the attended transfer"
tl_assert_eq "1" "$(cdr "select count(*) from cdrs where from_dn='1001' and to_dn='1005' and cause='transferred'")" \
	"the consultation call ended as transferred"

# 14. Cluster mode change: every registered phone gets NOTIFY check-sync.
uas_udp 1002 "$U2" sync cm_checksync.xml
tl_check "cluster mode mixed" bash -c \
	"'$T' cluster mode mixed --site '$site' >/dev/null"
rc=0
wait_gone uas-sync || rc=$?
tl_assert_eq 0 "$rc" "the phone got NOTIFY check-sync and answered"
printf 'SEQUENTIAL\n1999;whatever;[authentication username=1999 password=whatever];x\n' \
	>"$D/unknown.csv"
if tl_sipp unknown 127.0.0.1:"$P" -sf "$SIPP/register_auth.xml" \
	-inf "$D/unknown.csv" -m 1 -t u1 -p "$(port)" 2>/dev/null; then
	tl_check_fail "mixed mode: an unknown device is refused"
else
	tl_pass "mixed mode: an unknown device is refused"
fi

# CDR rows: one per call attempt above.
tl_assert_eq "1001|1002|nonsecure 1003|1004|encrypted 1003|1002|nonsecure 1001|1002|nonsecure 1001|1002|nonsecure 1001|1005|nonsecure 1001|1006|nonsecure 1001|1002|nonsecure 1002|1005|nonsecure 1001|1002|nonsecure 1001|1005|nonsecure 1002|1005|nonsecure" \
	"$(cdr "select from_dn,to_dn,security from cdrs where answer_at>0 order by id" | tr '\n' ' ' | sed 's/ $//')" \
	"CDRs of the answered calls"
tl_assert_eq 1 "$(cdr "select count(*) from cdrs where to_dn='1999' and cause='unknown number'")" \
	"CDR of the call to an unknown number"
tl_assert_eq 1 "$(cdr "select count(*) from cdrs where cause='busy'")" \
	"CDR of the busy call"
tl_assert_eq 1 "$(cdr "select count(*) from cdrs where cause='cancelled'")" \
	"CDR of the cancelled call"
tl_assert_eq 1 "$(cdr "select count(*) from cdrs where cause='no answer'")" \
	"CDR of the unanswered call"

rc=0
tl_stop serve || rc=$?
tl_assert_eq 0 "$rc" "serve exits 0 on SIGTERM"
tl_summary
