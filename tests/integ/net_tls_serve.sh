#!/usr/bin/env bash
# The transport layer as a client sees it: `trustline serve` on loopback,
# probed with openssl s_client and bash's /dev/tcp. TLS 1.2 and 1.3 only,
# AEAD suites only, both server certificates (RSA and ECDSA P-256), client
# certificates verified when sent, RFC 5626 CRLF keepalive answered on TCP
# and TLS, per-address connection limit and slow-sender timeout at their
# defaults, the key log written only when asked for.
# Ports: 31200-31299 on 127.0.0.1.
set -euo pipefail

: "${TL_BIN:?TL_BIN must name the trustline binary}"
. "$(dirname "$0")/lib.sh"
MODULE=${TL_PKCS11_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
for tool in openssl ss timeout; do
	command -v "$tool" >/dev/null || { echo "SKIP: no $tool"; exit 0; }
done
[ -f "$MODULE" ] || { echo "SKIP: no PKCS#11 module $MODULE"; exit 0; }
# Every step is bounded on its own (timeout, tl_wait_port, read -t), so
# no script-wide deadline process is needed.

unset SOFTHSM2_CONF
work=$(tl_tmpdir)
site=$work/site
port=$(tl_free_port 31200 7 100) || tl_fail "no free ports in 31200-31299"
tls=$((port + 1))

rc=0
timeout 120 "$TL_BIN" init --site "$site" --base-port "$port" \
	--host 127.0.0.1 >"$work/init.log" 2>&1 || rc=$?
[ $rc -eq 0 ] || tl_fail "init exited $rc: $(tail -n 5 "$work/init.log")"
ca=$site/pki/ca.crt

start_serve() {
	tl_start "$1" "$TL_BIN" serve --site "$site" --no-tftp --no-http "${@:2}"
	tl_wait_port tcp 127.0.0.1 "$tls" 20 || tl_fail "serve did not listen on $tls"
}

# s_client NAME ARGS...: one handshake, no input; output in NAME.out
s_client() {
	local name=$1
	shift
	timeout 10 openssl s_client -connect "127.0.0.1:$tls" "$@" \
		</dev/null >"$work/$name.out" 2>&1
}

start_serve serve

# ---- protocol versions ----
tl_check "TLS 1.3 handshake, server chain verifies against the site CA" \
	s_client t13 -tls1_3 -CAfile "$ca" -verify_return_error
tl_check "TLS 1.3 negotiated" grep -q "New, TLSv1.3, Cipher is" "$work/t13.out"
tl_check "TLS 1.2 handshake" \
	s_client t12 -tls1_2 -CAfile "$ca" -verify_return_error
tl_check "TLS 1.2 suite is ECDHE with AEAD" \
	grep -Eq "New, TLSv1.2, Cipher is ECDHE-(RSA|ECDSA)-(AES(128|256)-GCM|CHACHA20)" \
	"$work/t12.out"
# SECLEVEL=0 so that the client really offers the old versions
tl_check "TLS 1.1 refused" \
	bash -c "! timeout 10 openssl s_client -connect 127.0.0.1:$tls \
		-tls1_1 -cipher DEFAULT@SECLEVEL=0 </dev/null >/dev/null 2>&1"
tl_check "TLS 1.0 refused" \
	bash -c "! timeout 10 openssl s_client -connect 127.0.0.1:$tls \
		-tls1 -cipher DEFAULT@SECLEVEL=0 </dev/null >/dev/null 2>&1"

# ---- cipher suites ----
for suite in AES128-SHA AES256-GCM-SHA384 ECDHE-RSA-AES128-SHA256 \
	ECDHE-ECDSA-AES256-SHA DHE-RSA-AES128-GCM-SHA256; do
	tl_check "TLS 1.2 $suite refused" \
		bash -c "! timeout 10 openssl s_client -connect 127.0.0.1:$tls \
			-tls1_2 -cipher $suite </dev/null >/dev/null 2>&1"
done

# ---- two certificates ----
tl_check "ECDSA client gets the P-256 certificate" \
	s_client ec -tls1_3 -sigalgs ECDSA+SHA256 -CAfile "$ca" \
	-verify_return_error
tl_check "... 256-bit key" grep -q "Server public key is 256 bit" "$work/ec.out"
tl_check "RSA-only client gets the RSA certificate" \
	s_client rsa -tls1_3 -sigalgs RSA-PSS+SHA256 -CAfile "$ca" \
	-verify_return_error
tl_check "... 2048-bit key" grep -q "Server public key is 2048 bit" \
	"$work/rsa.out"

# ---- client certificates: verified when sent ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$work/rogue.key" -out "$work/rogue.crt" -days 1 \
	-subj /CN=SEP00000000DEAD 2>/dev/null || tl_fail "openssl req"
tl_check "no client certificate: the handshake completes" \
	s_client nocert -tls1_3 -CAfile "$ca"
# TLS 1.3: the client learns of the refusal on its first read
tl_check "a client certificate from no trusted CA is refused" \
	bash -c "! printf 'OPTIONS sip:x SIP/2.0\r\n\r\n' |
		timeout 10 openssl s_client -connect 127.0.0.1:$tls -tls1_2 \
		-cert '$work/rogue.crt' -key '$work/rogue.key' -CAfile '$ca' \
		>'$work/rogue.out' 2>&1"
tl_check "... with a certificate alert" \
	grep -Eqi "alert (unknown ca|bad certificate)" "$work/rogue.out"

# ---- RFC 5626 keepalive ----
pong_tcp() {
	local got
	exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
	printf '\r\n\r\n' >&3
	IFS= read -r -t 5 -N 2 got <&3 || { exec 3<&-; return 1; }
	exec 3<&-
	[ "$got" = $'\r\n' ]
}
tl_check "TCP: CRLFCRLF ping answered with CRLF pong" pong_tcp
pong_tls() {
	# -ign_eof: keep reading after our input ends; the pong is 2 bytes
	{ printf '\r\n\r\n'; sleep 1; } |
		timeout 5 openssl s_client -connect "127.0.0.1:$tls" -quiet \
			-ign_eof -CAfile "$ca" 2>/dev/null |
		head -c 2 | od -An -c | tr -d ' \n' >"$work/pong_tls"
	[ "$(cat "$work/pong_tls")" = '\r\n' ]
}
tl_check "TLS: CRLFCRLF ping answered with CRLF pong" pong_tls

# ---- limits (defaults of struct net_conf) ----
# eof_within FD SECONDS: 0 when the server closes FD within SECONDS
eof_within() {
	local fd=$1 secs=$2 junk rc=0
	while :; do
		IFS= read -r -t "$secs" -N 1 junk <&"$fd" || rc=$?
		# > 128: timed out; 0: a byte (keep reading); else EOF/error
		[ $rc -eq 0 ] && continue
		[ $rc -gt 128 ] && return 1
		return 0
	done
}
per_ip_limit() {
	local fds=() fd i rc=0
	for ((i = 0; i < 128; i++)); do
		exec {fd}<>"/dev/tcp/127.0.0.1/$port" || return 1
		fds+=("$fd")
	done
	sleep 0.3
	# the 129th from the same address is closed at once
	exec {fd}<>"/dev/tcp/127.0.0.1/$port" || return 1
	eof_within "$fd" 3 || rc=1
	exec {fd}<&-
	# one of the 128 still works
	printf '\r\n\r\n' >&"${fds[0]}"
	local got=
	IFS= read -r -t 3 -N 2 got <&"${fds[0]}" || rc=1
	[ "$got" = $'\r\n' ] || rc=1
	for fd in "${fds[@]}"; do
		exec {fd}<&-
	done
	return $rc
}
tl_check "128 connections from one address, the 129th refused" per_ip_limit
# log_has PATTERN: the daemon's log shows PATTERN within 3 s
log_has() {
	local i
	for ((i = 0; i < 30; i++)); do
		grep -q "$1" "$(tl_log serve)" && return 0
		sleep 0.1
	done
	return 1
}
tl_check "the refusal is logged" log_has "max_conns_per_ip"
slow_sender() {
	local fd i
	exec {fd}<>"/dev/tcp/127.0.0.1/$port" || return 1
	printf 'OPTIONS sip:x@127.0.0.1 SIP/2.0\r\n' >&"$fd"
	# one byte a second, never the end of the headers
	for ((i = 0; i < 20; i++)); do
		printf 'X' >&"$fd" 2>/dev/null || break
		if eof_within "$fd" 1; then
			exec {fd}<&-
			# 10 s after the first byte, give or take a second
			[ $i -ge 8 ] && [ $i -le 12 ]
			return
		fi
	done
	exec {fd}<&-
	return 1
}
tl_check "a slow sender is dropped after the message timeout" slow_sender
tl_check "the slow sender is logged" log_has "slow sender"

# ---- key log ----
tl_assert_eq "" "$(find "$work" -iname '*keylog*' -o -iname '*sslkey*')" \
	"no key log file anywhere without --keylog"
tl_stop serve || true
start_serve serve_keylog --keylog "$work/tls.keylog"
tl_check "handshake with key logging on" s_client kl -tls1_3 -CAfile "$ca"
for i in $(seq 1 20); do
	grep -q "^CLIENT_TRAFFIC_SECRET_0 " "$work/tls.keylog" 2>/dev/null && break
	sleep 0.1
done
tl_check "key log has NSS-format TLS 1.3 secrets" \
	grep -Eq "^CLIENT_HANDSHAKE_TRAFFIC_SECRET [0-9a-f]{64} [0-9a-f]+$" \
	"$work/tls.keylog"
tl_assert_eq 600 "$(stat -c %a "$work/tls.keylog")" "key log is 0600"
tl_stop serve_keylog || true

tl_summary
