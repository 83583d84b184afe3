#!/usr/bin/env bash
# REGISTER-with-digest benchmark: Trustline against Kamailio, same SIPp
# scenario (tests/sipp/register_bench.xml: REGISTER, 401, REGISTER with MD5
# digest credentials, 200), same machine, same run.
#
#   bench/register.sh [options] [SERVER_KIND]
#     SERVER_KIND      all (default), kamailio or trustline
#     --regs N         registrations per run over UDP and kept-open TLS
#                      (default 30000)
#     --rate R         SIPp call rate for those runs, per second (3000)
#     --new-regs N     registrations on new TLS connections (2000)
#     --new-rate R     SIPp call rate for them (100)
#     --users N        distinct users (default 200)
#     --handshake-secs S  duration of each OpenSSL handshake run (5)
#     --base-port P    first of the 500 ports used, 34000-34499 (34000)
#     --json           print the results as one JSON object at the end
#     -h, --help
#   Environment: TL_BIN (the trustline binary, default build/trustline),
#   TRUSTLINE_CA / TRUSTLINE_CLIENT_CERT / TRUSTLINE_CLIENT_KEY (see
#   start_trustline), KAMAILIO_SETUP_ARGS (more bench/kamailio/setup
#   options, e.g. "--mem qm").
#
# For each server and transport it prints registrations done, the server's
# CPU time (utime + stime of every server process, from /proc/PID/stat,
# summed, after minus before), CPU seconds per 1,000 registrations and the
# ratio Trustline / Kamailio, beside the goals. It also measures OpenSSL's own
# server CPU per TLS 1.3 handshake with a P-256 certificate (openssl s_server
# against openssl s_time -new), without and with a client certificate, to
# compare the new-connection figures with.
#
# Transports:
#   udp       SIPp -t u1 straight to the server.
#   tls-kept  SIPp -t t1 to a local stunnel, one TLS connection kept open to
#             the server (stunnel's CPU is not counted: it is the client).
#   tls-new   SIPp -t tn: one TCP connection per registration, stunnel opens
#             one TLS connection for each (session resumption off, client
#             certificate on: mutual TLS as a phone does it).
set -uo pipefail

. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

kind=all
regs=30000
rate=3000
new_regs=2000
new_rate=100
users=200
hs_secs=5
base=34000
json=0

usage() {
	awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
}

num() {
	[[ "$2" =~ ^[0-9]+$ ]] && [ "$2" -gt 0 ] || {
		echo "register.sh: $1 wants a positive number, not '$2'" >&2
		exit 2
	}
}

while [ $# -gt 0 ]; do
	case "$1" in
	-h | --help) usage; exit 0 ;;
	--regs) num "$1" "${2:-}"; regs=$2; shift 2 ;;
	--rate) num "$1" "${2:-}"; rate=$2; shift 2 ;;
	--new-regs) num "$1" "${2:-}"; new_regs=$2; shift 2 ;;
	--new-rate) num "$1" "${2:-}"; new_rate=$2; shift 2 ;;
	--users) num "$1" "${2:-}"; users=$2; shift 2 ;;
	--handshake-secs) num "$1" "${2:-}"; hs_secs=$2; shift 2 ;;
	--base-port) num "$1" "${2:-}"; base=$2; shift 2 ;;
	--json) json=1; shift ;;
	all | kamailio | trustline) kind=$1; shift ;;
	*)
		echo "register.sh: unknown argument '$1' (see --help)" >&2
		exit 2
		;;
	esac
done
if [ "$base" -lt 34000 ] || [ "$base" -gt 34499 ]; then
	echo "register.sh: --base-port must be in 34000-34499" >&2
	exit 2
fi
[ "$users" -le 100000 ] || {
	echo "register.sh: at most 100000 users" >&2
	exit 2
}
for t in sipp stunnel openssl; do
	command -v $t >/dev/null || {
		echo "register.sh: $t is not installed (scripts/deps)" >&2
		exit 2
	}
done

: "${TL_BIN:=$TL_SRC/build/trustline}"
tmp=$(tl_tmpdir)
scenario="$TL_SRC/tests/sipp/register_bench.xml"
csv="$tmp/users.csv"
bench_users_csv "$csv" "$users"
# Whole run: at most 30 minutes, whatever happens.
tl_deadline 1800

# Results: R[server.transport.field]
declare -A R=()

# Ports: each server gets its own block of 100 inside the caller's range,
# chosen just before it starts: the runs before leave TIME_WAIT sockets on
# ephemeral ports, and Linux's ephemeral range covers ours.
sipp_port=$(tl_free_port $((base + 300)) 1) || exit 1

# Starts Kamailio as the registrar; sets SERVER_PID, SERVER_UDP, SERVER_TLS,
# SERVER_CA, SERVER_CERT, SERVER_KEY.
start_kamailio() {
	local cmd
	command -v kamailio >/dev/null || {
		bench_note "kamailio not installed"
		return 1
	}
	kam_base=$(tl_free_port "$base" 2) || return 1
	cmd=$("$BENCH_DIR/kamailio/setup" --sip-port "$kam_base" --users "$csv" \
		--mtls --debug -1 --mem tlsf ${KAMAILIO_SETUP_ARGS:-} \
		"$tmp/kamailio") ||
		return 1
	eval "tl_start kamailio $cmd"
	tl_wait_port udp 127.0.0.1 "$kam_base" 20 &&
		tl_wait_port tcp 127.0.0.1 $((kam_base + 1)) 20 || {
		tail -n 20 "$(tl_log kamailio)" >&2
		return 1
	}
	SERVER_PID=$(tl_pid kamailio)
	SERVER_UDP=127.0.0.1:$kam_base
	SERVER_TLS=127.0.0.1:$((kam_base + 1))
	SERVER_CA=$tmp/kamailio/ca.crt
	SERVER_CERT=$tmp/kamailio/client.crt
	SERVER_KEY=$tmp/kamailio/client.key
	SERVER_MTLS=yes
}

# Starts `trustline serve` on a fresh site with the benchmark's users.
# Sets the same variables as start_kamailio. The site layout and the flags of
# the admin commands follow docs (DESIGN.md "Command line"); adjust here if
# they change.
start_trustline() {
	local site=$tmp/site i mac mic_cert mic_key
	if ! "$TL_BIN" serve --help >/dev/null 2>&1; then
		echo "trustline serve not available"
		return 1
	fi
	tl_base=$(tl_free_port $((base + 100)) 7) || return 1
	"$TL_BIN" init --site "$site" --base-port "$tl_base" \
		>"$tmp/trustline-init.log" 2>&1 || {
		bench_note "trustline init failed: $(tail -n 1 "$tmp/trustline-init.log")"
		return 1
	}
	# SIPp 3.6 answers only the first challenge, and only MD5: offer MD5
	# first (Kamailio offers MD5 only).
	sed -i 's/^digest = .*/digest = md5,sha256/' "$site/trustline.conf"
	for ((i = 1001; i < 1001 + users; i++)); do
		mac=$(printf '0011%08X' "$i")
		"$TL_BIN" device add --site "$site" --mac "$mac" \
			>>"$tmp/trustline-init.log" 2>&1 &&
			"$TL_BIN" line add --site "$site" --dn "$i" --device "$mac" \
				--user "$i" --password "secret$i" \
				>>"$tmp/trustline-init.log" 2>&1 || {
			bench_note "trustline device/line add failed: $(tail -n 1 "$tmp/trustline-init.log")"
			return 1
		}
	done
	# A manufacturer certificate (MIC) for the first device, as the phone
	# would present it; issued before serve starts, which loads the
	# client CAs and CRLs once.
	mac=$(printf '0011%08X' 1001)
	mic_cert= mic_key=
	if [ -z "${TRUSTLINE_CLIENT_CERT:-}" ] && mkdir -p "$tmp/mic" &&
		"$TL_BIN" mfg issue --site "$site" --mac "$mac" --out "$tmp/mic" \
			>>"$tmp/trustline-init.log" 2>&1 &&
		[ -r "$tmp/mic/SEP$mac.crt" ]; then
		mic_cert=$tmp/mic/SEP$mac.crt
		mic_key=$tmp/mic/SEP$mac.key
	fi
	tl_start trustline "$TL_BIN" serve --site "$site"
	tl_wait_port udp 127.0.0.1 "$tl_base" 20 &&
		tl_wait_port tcp 127.0.0.1 $((tl_base + 1)) 20 || {
		tail -n 20 "$(tl_log trustline)" >&2
		return 1
	}
	SERVER_PID=$(tl_pid trustline)
	SERVER_UDP=127.0.0.1:$tl_base
	SERVER_TLS=127.0.0.1:$((tl_base + 1))
	# The CA that issued the site's SIP TLS certificate, and a client
	# certificate the site trusts (a phone's LSC or MIC); without one the
	# new-connection runs use server-authenticated TLS only.
	SERVER_CA=${TRUSTLINE_CA:-$site/pki/ca.crt}
	SERVER_CERT=${TRUSTLINE_CLIENT_CERT:-$mic_cert}
	SERVER_KEY=${TRUSTLINE_CLIENT_KEY:-$mic_key}
	SERVER_MTLS=no
	[ -z "$SERVER_CERT" ] || SERVER_MTLS=yes
}

# measure SERVER TRANSPORT SIPP-TARGET SIPP-TRANSPORT COUNT RATE
measure() {
	local srv=$1 tr=$2 target=$3 st=$4 count=$5 r=$6 before after name
	local limit=$((count / r + 60)) ok failed nproc_before nproc_after
	name="$srv-$tr"
	# Warm-up, not measured: the bindings exist, caches are filled.
	tl_sipp "$name-warm" -sf "$scenario" -inf "$csv" -i 127.0.0.1 \
		-p "$sipp_port" -t "$st" -max_socket 4096 -m "$users" -r "$r" \
		-timeout 60 "$target" >/dev/null 2>&1
	nproc_before=$(bench_tree "$SERVER_PID" | wc -l)
	before=$(bench_cpu_ticks "$SERVER_PID")
	TL_SIPP_TIMEOUT=$((limit + 30)) tl_sipp "$name" -sf "$scenario" \
		-inf "$csv" -i 127.0.0.1 -p "$sipp_port" -t "$st" \
		-max_socket 4096 -m "$count" -r "$r" -rp 1000 -l $((r * 2)) \
		-recv_timeout 10000 -timeout "$limit" "$target"
	after=$(bench_cpu_ticks "$SERVER_PID")
	nproc_after=$(bench_tree "$SERVER_PID" | wc -l)
	ok=$(bench_sipp_count "$tmp/$name.screen" successful)
	failed=$(bench_sipp_count "$tmp/$name.screen" failed)
	R[$srv.$tr.regs]=$ok
	R[$srv.$tr.failed]=$failed
	R[$srv.$tr.cpu]=$(bench_ticks_to_s $((after - before)))
	if [ "$ok" -gt 0 ]; then
		R[$srv.$tr.per1k]=$(bench_div "${R[$srv.$tr.cpu]}" "$ok" 6 |
			awk '{ printf "%.4f\n", $1 * 1000 }')
	else
		R[$srv.$tr.per1k]=-
	fi
	if [ "$nproc_after" -lt "$nproc_before" ]; then
		# A process that exited took its CPU time with it.
		bench_note "$srv $tr: server processes exited during the run ($nproc_before before, $nproc_after after): no figure"
		R[$srv.$tr.cpu]=-
		R[$srv.$tr.per1k]=-
	elif [ "$ok" -eq 0 ]; then
		bench_note "$srv $tr: no registration succeeded"
	elif [ "$failed" -gt $((count / 100)) ]; then
		bench_note "$srv $tr: $failed of $count registrations failed"
	fi
}

# tls_probe SERVER STUNNEL-PORT: a few registrations over TLS succeed.
tls_probe() {
	local ok
	tl_sipp "$1-probe" -sf "$scenario" -inf "$csv" -i 127.0.0.1 \
		-p "$sipp_port" -t t1 -m 5 -timeout 20 "127.0.0.1:$2" \
		>/dev/null 2>&1
	ok=$(bench_sipp_count "$tmp/$1-probe.screen" successful)
	[ "$ok" -gt 0 ]
}

run_server() {
	local srv=$1 st
	SERVER_PID=
	if ! "start_$srv"; then
		R[$srv.status]="not available"
		return
	fi
	R[$srv.status]=ok
	R[$srv.mtls]=$SERVER_MTLS
	measure "$srv" udp "$SERVER_UDP" u1 "$regs" "$rate"
	st=$(tl_free_port $((base + 400)) 1) || return
	if [ -r "$SERVER_CA" ]; then
		if [ -n "$SERVER_CERT" ]; then
			tl_stunnel_conf "$tmp/stunnel-$srv.conf" "$st" "$SERVER_TLS" \
				"$SERVER_CA" "$SERVER_CERT" "$SERVER_KEY" no
		else
			tl_stunnel_conf "$tmp/stunnel-$srv.conf" "$st" "$SERVER_TLS" \
				"$SERVER_CA"
		fi
		tl_start "stunnel-$srv" stunnel "$tmp/stunnel-$srv.conf"
		tl_wait_port tcp 127.0.0.1 "$st" 10
		if [ -n "$SERVER_CERT" ] && ! tls_probe "$srv" "$st"; then
			bench_note "$srv refuses the client certificate ($(tail -n 1 "$(tl_log "$srv")")); measuring server-authenticated TLS"
			tl_stop "stunnel-$srv"
			tl_stunnel_conf "$tmp/stunnel-$srv.conf" "$st" "$SERVER_TLS" \
				"$SERVER_CA"
			R[$srv.mtls]=no
			tl_start "stunnel-$srv" stunnel "$tmp/stunnel-$srv.conf"
		fi
		if tl_wait_port tcp 127.0.0.1 "$st" 10 && tls_probe "$srv" "$st"; then
			measure "$srv" tls-kept "127.0.0.1:$st" t1 "$regs" "$rate"
			measure "$srv" tls-new "127.0.0.1:$st" tn "$new_regs" \
				"$new_rate"
		fi
		tl_stop "stunnel-$srv"
	else
		bench_note "$srv: no CA certificate at $SERVER_CA, TLS skipped"
	fi
	tl_stop "$srv" || true
}

# OpenSSL alone: s_server's CPU per full TLS 1.3 handshake, P-256
# certificate, default key exchange group, plain and mutual.
openssl_handshakes() {
	local mode=$1 d=$tmp/kamailio sargs=() cargs=() before after n pid
	if [ ! -r "$d/server.crt" ]; then
		"$BENCH_DIR/kamailio/setup" --users "$csv" "$d" >/dev/null ||
			return
	fi
	if [ "$mode" = mutual ]; then
		sargs=(-CAfile "$d/ca.crt" -Verify 1)
		cargs=(-cert "$d/client.crt" -key "$d/client.key" -CAfile "$d/ca.crt")
	fi
	ossl_port=$(tl_free_port $((base + 200)) 1) || return
	tl_start "s_server-$mode" openssl s_server -accept "127.0.0.1:$ossl_port" \
		-cert "$d/server.crt" -key "$d/server.key" -tls1_3 -quiet \
		-naccept 1000000 "${sargs[@]}"
	tl_wait_port tcp 127.0.0.1 "$ossl_port" 10 || return
	pid=$(tl_pid "s_server-$mode")
	before=$(bench_cpu_ticks "$pid")
	n=$(timeout $((hs_secs + 30)) openssl s_time -connect \
		"127.0.0.1:$ossl_port" -new -tls1_3 -time "$hs_secs" "${cargs[@]}" \
		2>/dev/null | awk '/connections in .* real seconds/ { print $1 }')
	after=$(bench_cpu_ticks "$pid")
	tl_stop "s_server-$mode" || true
	R[openssl.$mode.n]=${n:-0}
	R[openssl.$mode.cpu]=$(bench_ticks_to_s $((after - before)))
	R[openssl.$mode.per1k]=$(bench_div "${R[openssl.$mode.cpu]}" "${n:-0}" 6 |
		awk '$1 != "-" { printf "%.4f\n", $1 * 1000; next } { print }')
}

case "$kind" in
all) servers=(kamailio trustline) ;;
*) servers=("$kind") ;;
esac
for s in "${servers[@]}"; do
	run_server "$s"
done
openssl_handshakes plain
openssl_handshakes mutual

# ---------------------------------------------------------------- report
get() {
	printf '%s\n' "${R[$1]:--}"
}

ratio_line() {
	# ratio_line LABEL NUM DEN [GOAL]
	local r
	r=$(bench_div "$2" "$3" 2)
	if [ -z "${4:-}" ]; then
		printf '  %-34s %7sx   (for scale, no goal)\n' "$1" "$r"
	elif [ "$r" = - ]; then
		printf '  %-34s %8s   goal <= %sx\n' "$1" "n/a" "$4"
	else
		local met
		met=$(awk -v r="$r" -v g="$4" 'BEGIN { print (r <= g ? "met" : "NOT met") }')
		printf '  %-34s %7sx   goal <= %sx  %s\n' "$1" "$r" "$4" "$met"
	fi
}

if [ "$json" = 1 ]; then
	first=1
	printf '{'
	for k in $(printf '%s\n' "${!R[@]}" | sort); do
		v=${R[$k]}
		[ $first = 1 ] || printf ','
		first=0
		if [[ "$v" =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
			printf '"%s":%s' "$k" "$v"
		else
			printf '"%s":"%s"' "$k" "$v"
		fi
	done
	printf '}\n'
else
	echo "REGISTER with digest auth (SIPp register_bench.xml), server CPU = utime+stime of all server processes"
	printf '%-10s %-10s %8s %7s %9s %14s\n' transport server regs failed cpu_s \
		"cpu_s/1000reg"
	for tr in udp tls-kept tls-new; do
		for s in "${servers[@]}"; do
			if [ "$(get "$s.status")" != ok ]; then
				printf '%-10s %-10s %s\n' "$tr" "$s" "$(get "$s.status")"
				continue
			fi
			printf '%-10s %-10s %8s %7s %9s %14s\n' "$tr" "$s" \
				"$(get "$s.$tr.regs")" "$(get "$s.$tr.failed")" \
				"$(get "$s.$tr.cpu")" "$(get "$s.$tr.per1k")"
		done
	done
	for m in plain mutual; do
		printf '%-10s %-10s %8s %7s %9s %14s\n' "handshake" "openssl-$m" \
			"$(get "openssl.$m.n")" 0 "$(get "openssl.$m.cpu")" \
			"$(get "openssl.$m.per1k")"
	done
	echo "(handshake rows: TLS 1.3, P-256 certificate, openssl s_server CPU per 1000 full handshakes; mutual = with a client certificate)"
	echo
	echo "Ratios and goals:"
	ratio_line "udp: Trustline / Kamailio" "$(get trustline.udp.per1k)" \
		"$(get kamailio.udp.per1k)" 0.5
	ratio_line "tls-kept: Trustline / Kamailio" \
		"$(get trustline.tls-kept.per1k)" "$(get kamailio.tls-kept.per1k)" 0.5
	mt=$(get trustline.mtls)
	[ "$mt" = yes ] && hm=mutual || hm=plain
	ratio_line "tls-new: Trustline / OpenSSL-$hm" \
		"$(get trustline.tls-new.per1k)" "$(get "openssl.$hm.per1k")" 1.25
	ratio_line "tls-new: Kamailio / OpenSSL-mutual" \
		"$(get kamailio.tls-new.per1k)" "$(get openssl.mutual.per1k)" 1.25
	ratio_line "tls-new: Trustline-$hm / Kamailio-mutual" \
		"$(get trustline.tls-new.per1k)" "$(get kamailio.tls-new.per1k)"
fi

# Non-zero when a server that was asked for could not be measured at all
# (Trustline may be missing: that is reported, not an error).
for s in "${servers[@]}"; do
	if [ "$s" = kamailio ] && [ "$(get kamailio.udp.regs)" = - ]; then
		exit 1
	fi
done
exit 0
