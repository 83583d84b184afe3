#!/usr/bin/env bash
# Calls benchmark: calls per second over TLS, SIPp UAC -> server -> SIPp
# UAS (INVITE, 180, 200, ACK, BYE), Trustline (a B2BUA: two dialogs per
# call, SDP parsed and printed again, the callee's status UPDATE, a CDR
# row in SQLite) against Kamailio as a transaction-stateful proxy with a
# location service (bench/calls_kamailio.cfg.in), same scenario, same
# run, same machine.
#
#   bench/calls.sh [options] [all|trustline|kamailio]
#     --calls N      calls per server (default 3000)
#     --rate R       calls per second offered (default 150)
#     --base-port P  first of the ports used (default 38500; 38500-38999)
#     --json         print the results as one JSON object at the end
#   Environment: TL_BIN (default build/trustline).
#
# TLS legs: the caller is SIPp over TCP into a local stunnel client that
# presents the caller's device certificate; the callee is SIPp (TCP,
# server mode) behind tests/sipp/tls_bridge.py, which registers over TLS with the
# callee's certificate and relays that connection (the server reaches the
# callee on the connection it registered on). Neither stunnel, the bridge
# nor SIPp is counted: the figure is the server's own CPU time (utime +
# stime of every server process, /proc/PID/stat, after minus before),
# divided by the completed calls, per 1,000 calls; then the ratio
# Trustline / Kamailio (goal: at most 1.0).
set -uo pipefail

. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

kind=all
calls=3000
rate=150
base=38500
json=0

usage() {
	awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
}

while [ $# -gt 0 ]; do
	case "$1" in
	--calls) calls=${2:?}; shift 2 ;;
	--rate) rate=${2:?}; shift 2 ;;
	--base-port) base=${2:?}; shift 2 ;;
	--json) json=1; shift ;;
	-h | --help) usage; exit 0 ;;
	all | trustline | kamailio) kind=$1; shift ;;
	*) echo "calls.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
done
for v in "$calls" "$rate" "$base"; do
	[[ "$v" =~ ^[0-9]+$ ]] && [ "$v" -gt 0 ] || {
		echo "calls.sh: numbers must be positive integers" >&2
		exit 2
	}
done

T=${TL_BIN:-$TL_SRC/build/trustline}
D=$(tl_tmpdir)
SIPP=$TL_SRC/tests/sipp
tl_deadline $((120 + 3 * calls / rate + 240))
TL_SIPP_TIMEOUT=$((60 + 2 * calls / rate))
declare -A R

port() { tl_free_port "$base" 1 500 || exit 1; }

# run_calls NAME SERVER_PID STUNNEL_PORT UAS_NAME
run_calls() {
	local name=$1 pid=$2 st=$3 uas=$4 before after t0 t1 ok
	before=$(bench_cpu_ticks "$pid")
	t0=$(date +%s.%N)
	tl_sipp "$name" 127.0.0.1:"$st" -sf "$BENCH_DIR/calls_uac.xml" -t t1 \
		-p "$(port)" -m "$calls" -r "$rate" -l $((rate * 4)) \
		-key from 2001 -key to 2002 -timeout $((30 + 2 * calls / rate)) \
		-recv_timeout 10000 >/dev/null 2>&1
	t1=$(date +%s.%N)
	sleep 1 # the last BYE's transaction and CDR
	after=$(bench_cpu_ticks "$pid")
	ok=$(bench_sipp_count "$TL_TMP/$name.screen" successful)
	R[$name.calls]=${ok:-0}
	R[$name.cpu]=$(bench_ticks_to_s $((after - before)))
	R[$name.wall]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
	R[$name.cps]=$(bench_div "${ok:-0}" "${R[$name.wall]}" 1)
	R[$name.per1k]=$(bench_div "$(bench_div "${R[$name.cpu]}" "${ok:-0}" 6)" 0.001 3)
	R[$name.rss_kib]=$(awk '/VmHWM/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
	tl_stop "$uas" >/dev/null 2>&1 || true
}

start_bridge() { # NAME SERVER_TLS_PORT CA CERT KEY DN PASSWORD UAS_PORT
	local name=$1
	shift
	BRIDGE_SECS=$((60 + 3 * calls / rate)) tl_start "$name" python3 \
		"$TL_SRC/tests/sipp/tls_bridge.py" 127.0.0.1 "$@"
	for _ in $(seq 100); do
		grep -q registered "$(tl_log "$name")" && return 0
		tl_alive "$name" || break
		sleep 0.1
	done
	bench_note "callee did not register: $(tail -2 "$(tl_log "$name")")"
	return 1
}

start_uas() { # NAME PORT
	tl_start "$1" timeout $((60 + 3 * calls / rate)) sipp -nostdin \
		-sf "$BENCH_DIR/calls_uas.xml" -t t1 -p "$2" -m "$calls" \
		-trace_err -error_file "$TL_TMP/$1.errors" 127.0.0.1:9
	tl_wait_port tcp 127.0.0.1 "$2" 10
}

bench_trustline() {
	local site=$D/site p up st
	p=$(tl_free_port "$base" 8 500) || return 1
	"$T" init --site "$site" --base-port "$p" >"$D/init.log" 2>&1 || {
		bench_note "init failed: $(tail -2 "$D/init.log")"
		return 1
	}
	sed -i 's/^digest = .*/digest = md5,sha256/' "$site/trustline.conf"
	for n in 1 2; do
		"$T" device add --site "$site" --mac 00112233440$n \
			--profile encrypted >/dev/null &&
			"$T" line add --site "$site" --dn 200$n \
				--device 00112233440$n --user 200$n \
				--password secret200$n >/dev/null &&
			mkdir -p "$D/mic$n" &&
			"$T" mfg issue --site "$site" --mac 00112233440$n \
				--out "$D/mic$n" >/dev/null || return 1
	done
	tl_start tl-serve "$T" serve --site "$site" --no-tftp --no-http
	tl_wait_port tcp 127.0.0.1 $((p + 1)) 20 || return 1
	st=$(port)
	tl_stunnel_conf "$D/st-tl.conf" "$st" 127.0.0.1:$((p + 1)) \
		"$site/pki/ca.crt" "$D/mic1/SEP001122334401.crt" \
		"$D/mic1/SEP001122334401.key"
	tl_start st-tl stunnel4 "$D/st-tl.conf"
	tl_wait_port tcp 127.0.0.1 "$st" 10 || return 1
	printf 'SEQUENTIAL\n2001;secret2001;[authentication username=2001 password=secret2001];x\n' \
		>"$D/caller.csv"
	tl_sipp tl-reg 127.0.0.1:"$st" -sf "$SIPP/register_auth.xml" \
		-inf "$D/caller.csv" -m 1 -t t1 -p "$(port)" || {
		bench_note "caller did not register"
		return 1
	}
	up=$(port)
	start_uas tl-uas "$up" || return 1
	start_bridge tl-bridge $((p + 1)) "$site/pki/ca.crt" \
		"$D/mic2/SEP001122334402.crt" "$D/mic2/SEP001122334402.key" \
		2002 secret2002 "$up" || return 1
	run_calls trustline "$(tl_pid tl-serve)" "$st" tl-uas
	R[trustline.cdrs]=$(sqlite3 "$site/trustline.db" \
		"select count(*) from cdrs where security='encrypted'" 2>/dev/null)
	tl_stop tl-bridge >/dev/null 2>&1
	tl_stop st-tl >/dev/null 2>&1
	tl_stop tl-serve >/dev/null 2>&1
}

bench_kamailio() {
	local d=$D/kam p cmd mpath st up
	command -v kamailio >/dev/null || {
		bench_note "kamailio not installed"
		return 1
	}
	p=$(tl_free_port $((base + 100)) 2 400) || return 1
	cmd=$("$BENCH_DIR/kamailio/setup" --sip-port "$p" --tls-port $((p + 1)) \
		--mtls --children 2 --tcp-children 2 "$d") || return 1
	mpath=$(sed -n 's/^mpath="\(.*\)"$/\1/p' "$d/kamailio.cfg")
	sed -e "s|@RUN_DIR@|$d|g" -e "s|@HOST@|127.0.0.1|g" \
		-e "s|@SIP_PORT@|$p|g" -e "s|@TLS_PORT@|$((p + 1))|g" \
		-e "s|@CHILDREN@|2|g" -e "s|@TCP_CHILDREN@|2|g" \
		-e "s|@DEBUG@|0|g" -e "s|@MODULE_PATH@|$mpath|g" \
		"$BENCH_DIR/calls_kamailio.cfg.in" >"$d/kamailio.cfg"
	eval "tl_start kamailio $cmd"
	tl_wait_port tcp 127.0.0.1 $((p + 1)) 20 || {
		tail -n 20 "$(tl_log kamailio)" >&2
		return 1
	}
	st=$(port)
	tl_stunnel_conf "$D/st-kam.conf" "$st" 127.0.0.1:$((p + 1)) \
		"$d/ca.crt" "$d/client.crt" "$d/client.key"
	tl_start st-kam stunnel4 "$D/st-kam.conf"
	tl_wait_port tcp 127.0.0.1 "$st" 10 || return 1
	up=$(port)
	start_uas kam-uas "$up" || return 1
	start_bridge kam-bridge $((p + 1)) "$d/ca.crt" "$d/client.crt" \
		"$d/client.key" 2002 x "$up" || return 1
	run_calls kamailio "$(tl_pid kamailio)" "$st" kam-uas
	tl_stop kam-bridge >/dev/null 2>&1
	tl_stop st-kam >/dev/null 2>&1
	tl_stop kamailio >/dev/null 2>&1
}

case $kind in
all) servers=(kamailio trustline) ;;
*) servers=("$kind") ;;
esac
for s in "${servers[@]}"; do
	bench_note "$s: $calls calls at $rate/s over TLS"
	"bench_$s" || bench_note "$s: run failed"
done

get() { echo "${R[$1]:--}"; }
printf '%-10s %8s %8s %9s %9s %14s %9s\n' server calls wall_s calls/s \
	cpu_s cpu_s/1k_calls maxrss_MiB
for s in "${servers[@]}"; do
	printf '%-10s %8s %8s %9s %9s %14s %9s\n' "$s" "$(get "$s.calls")" \
		"$(get "$s.wall")" "$(get "$s.cps")" "$(get "$s.cpu")" \
		"$(get "$s.per1k")" \
		"$(bench_div "$(get "$s.rss_kib")" 1024 1)"
done
ratio=$(bench_div "$(get trustline.per1k)" "$(get kamailio.per1k)" 2)
echo "Trustline / Kamailio CPU per call: $ratio (goal <= 1.0)"
[ "$(get trustline.cdrs)" = - ] ||
	echo "Trustline CDR rows with security=encrypted: $(get trustline.cdrs)"
if [ $json = 1 ]; then
	printf '{"calls": %s, "rate": %s' "$calls" "$rate"
	for s in "${servers[@]}"; do
		printf ', "%s": {"calls": "%s", "cps": "%s", "cpu_s": "%s", "cpu_s_per_1k": "%s"}' \
			"$s" "$(get "$s.calls")" "$(get "$s.cps")" \
			"$(get "$s.cpu")" "$(get "$s.per1k")"
	done
	printf ', "ratio": "%s"}\n' "$ratio"
fi
